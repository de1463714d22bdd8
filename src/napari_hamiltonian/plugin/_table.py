"""The per-frame results table dock: the numbers of ``fractions.csv`` inside napari,
exportable as CSV."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (QFileDialog, QPushButton, QTableWidget, QTableWidgetItem,
                            QVBoxLayout, QWidget)


class ResultsTable(QWidget):
    """A table of rows (dicts with the same keys): one per classified frame."""

    def __init__(self):
        super().__init__()
        self.table = QTableWidget()
        self.table.setSortingEnabled(False)
        self.export_button = QPushButton("Export CSV...")
        self.export_button.clicked.connect(self._export_dialog)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.export_button)
        self.rows: list[dict] = []

    def show_rows(self, rows: list[dict]) -> None:
        """Show ``rows``; numbers as the CSV writes them (shares as fractions)."""
        self.rows = list(rows)
        columns = list(rows[0]) if rows else []
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(columns)
        for i, row in enumerate(rows):
            for j, name in enumerate(columns):
                value = row[name]
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.export_button.setEnabled(bool(rows))

    def export(self, path) -> Path:
        """Write the rows as CSV (atomically; the file is whole or not there)."""
        from ..output.summary import write_csv

        if not self.rows:
            raise ValueError("nothing to export yet: press Run first")
        path = Path(path)
        write_csv(path, self.rows)
        return path

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the results table",
                                              "fractions.csv", "CSV (*.csv)")
        if path:
            self.export(path)
