"""Saved networks and training runs: how sfkeras finds, names and reads them.

- :mod:`sfkeras.saved.runs`: a training run folder's layout (``checkpoints/<run key>/``
  with ``run_config.json``), the run key, reading checkpoint files (falling back past
  damaged ones), and the one picker of a folder's newest run.
- :mod:`sfkeras.saved.loader`: the one loader of networks from every kind of source
  (a ``.keras`` file, a training run folder, an original ``network-snapshot-*.pkl``,
  an exported SavedModel), behind one dispatcher.

Writing checkpoints belongs to training (:mod:`sfkeras.training.checkpoint`); this
package reads and never imports :mod:`sfkeras.training`.
"""
