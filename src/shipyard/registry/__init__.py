"""The model registry: registered models, versions and their lifecycle, aliases, promotion gates,
approvals, comparisons and model cards (:mod:`.service`). Model packages themselves (flavors,
signatures, the package format) live in :mod:`shipyard.packaging`."""
