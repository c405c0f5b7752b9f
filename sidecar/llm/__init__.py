"""Language models as a proposer of proofs (profile 2): providers (`providers.py`) and the proposal and repair loop
(`proposer.py`). Off unless a provider is configured; every proof still goes through the independent verifier."""
