"""The model repository: archives of label maps, look-up tables and metadata.

An object model travels as an *archive* (a folder or a ``.zip``): NIfTI-1
label maps for each layer of each instant, look-up tables as CSV and a
``model.json`` metadata file.  :mod:`vipkb.models.archive` reads and writes
archives safely, :mod:`vipkb.models.lut` the CSV tables,
:mod:`vipkb.models.annotate` turns an archive into its RDF annotation.
"""
