"""Builds the tiny seq2seq tactic models the neural-generator tests load (tests/test_neural.py).

A T5 with ByT5's byte vocabulary (`ByT5Tokenizer()` needs no files), two layers of width 32 (54 k parameters,
about 250 KB), saved with `save_pretrained` and converted with ctranslate2's `TransformersConverter`, the way a user
converts a real model. Two kinds:

* trained (default): fine-tuned with torch for a few dozen steps so that, whatever the state, it answers one fixed
  tactic (`--target`, by default `exists 14; reflexivity.`) with log-probability near 0; beam search then also
  gives k-1 close misspellings of it with much lower scores. Checked after conversion: ctranslate2's greedy output
  must be the target for states it was and was not trained on.
* `--untrained`: random weights, as transformers initialises them: random byte strings, mostly running to the
  decoding limit (a slow model, for the timeout tests).

Needs torch, transformers and ctranslate2. Run as a script so that torch stays out of the test process:
`python tests/neural_model.py OUT_DIR [--untrained] [--target TACTIC]`; prints the folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

TARGET = "exists 14; reflexivity."
# states as the prover prints them (Coq: hypotheses, a rule of 20 '=', the conclusion; Lean: `⊢`); the model learns
# to answer TARGET to all of them, i.e. to ignore its input
STATES = (
    "====================\nexists n : nat, n * n * n = 2744",
    "n : nat\n====================\nn + 0 = n",
    "n m : nat\nH : n <= m\n====================\nS n <= S m",
    "x y : Nat\nh : x = y\n⊢ y = x",
    "⊢ True",
    "a b c : nat\n====================\na + b + c = a + (b + c)",
)
UNSEEN = ("P Q : Prop\nHP : P\n====================\nP \\/ Q", "l : list nat\n⊢ l ++ [] = l")


def build(out: Path, *, trained: bool = True, target: str = TARGET, seed: int = 0) -> Path:
    """Build and convert the model into `out` (created; must not exist). Returns `out`.

    Raises:
        RuntimeError: the converted model does not answer `target` (trained models only).
    """
    import ctranslate2
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    torch.set_num_threads(1)  # a 2-core machine shared with provers: more threads only fight
    torch.manual_seed(seed)
    tok = ByT5Tokenizer()
    # tie_word_embeddings left at its default: transformers 5 always ties T5's embeddings and scales the decoder
    # output only for tied configs, and ctranslate2 4.x's converter scales exactly when the config says tied
    cfg = T5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                   relative_attention_num_buckets=64, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                   feed_forward_proj="relu", dropout_rate=0.0)  # type: ignore[call-arg]
    model = T5ForConditionalGeneration(cfg)
    if trained:
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        enc = tok(list(STATES), return_tensors="pt", padding=True)
        labels = tok([target] * len(STATES), return_tensors="pt").input_ids
        model.train()
        for _ in range(1000):
            loss = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            if loss.item() < 0.005:
                break
        model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        hf = Path(tmp) / "hf"
        model.save_pretrained(hf)
        tok.save_pretrained(hf)
        copy = [p.name for p in hf.iterdir() if p.name.startswith(("tokenizer", "special_tokens", "added_tokens"))]
        TransformersConverter(str(hf), copy_files=copy).convert(str(out))
    if trained:
        translator = ctranslate2.Translator(str(out), device="cpu", inter_threads=1, intra_threads=1)
        for state in (*STATES, *UNSEEN):
            src = tok.convert_ids_to_tokens(tok.encode(state))
            hyp = translator.translate_batch([src], beam_size=1, max_decoding_length=64)[0].hypotheses[0]
            got = tok.decode(tok.convert_tokens_to_ids(hyp), skip_special_tokens=True)
            if got != target:
                shutil.rmtree(out, ignore_errors=True)
                raise RuntimeError(f"the converted model answers {got!r} to {state!r}, not {target!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: build one model folder and print its path."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--untrained", action="store_true")
    ap.add_argument("--target", default=TARGET)
    args = ap.parse_args(argv)
    print(build(args.out, trained=not args.untrained, target=args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
