"""The PySide6 + pyqtgraph desktop explorer (`mamlviz gui`)."""
