"""The model registry: registered models, versions and their lifecycle, aliases, promotion gates,
approvals, comparisons and model cards (:mod:`.service`), and model packaging
(:mod:`.packaging`, :mod:`.signature`, :mod:`.flavors`)."""
