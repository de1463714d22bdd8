"""Output: what results become for people and files.

``files`` (atomic writes), ``labelfile`` (the label values of the layer and
``labels.tif``), ``folder`` (the results folder), ``report`` (its tables and charts),
``summary`` (per-frame numbers), ``figures`` (charts) and ``messages`` (the answer and
advice in words).
"""
