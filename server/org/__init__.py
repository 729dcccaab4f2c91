"""The organisation: units, grids and users, and importing them from spreadsheets."""
