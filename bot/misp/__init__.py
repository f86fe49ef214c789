"""MISP (issue 14): the coalition's indicators as a MISP feed (`bot.misp.feed`, built with PyMISP) and MISP event
JSON read as an import (`bot.misp.reader`). PyMISP is imported only where an export is built (it takes seconds
to import): `bot.exchange` reads MISP files without it."""
