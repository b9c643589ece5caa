"""The book's tooling (papermill runs, the Jupyter Book build, network diagrams): not part of the glacier_utils wheel."""
