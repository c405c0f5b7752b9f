import AutoProveBank.Easy
import AutoProveBank.Medium
import AutoProveBank.Hard

/-! Lemma bank, all difficulties. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. -/
