#!/usr/bin/env python3
"""Writes tests/fixtures/clip_tokenizer/: CLIP's BPE vocabulary and the ids that open_clip's and
HuggingFace's CLIP tokenizers give for a varied set of texts, so that the Rust tokenizer can be
checked against both without Python.

    /root/.cache/memefuse-py/bin/python scripts/reference/clip_tokenizer_reference.py [OUT_DIR]

Pinned: open_clip_torch 3.3.0, transformers 5.24.0 (tokenizers backend), ftfy 6.3.1, regex, Python 3.11.

Files:
  bpe_simple_vocab_16e6.txt.gz   open_clip's vocabulary, copied from its package (MIT licence)
  small/bpe_small.txt.gz         the first SMALL_MERGES merges of it, open_clip's format
  small/vocab.json, merges.txt   the same small BPE in HuggingFace's format
  expected.json                  per text: open_clip's `tokenize` (77 ids, 0-padded) and `encode`
                                 (all ids) with the full vocabulary, open_clip's `tokenize` with the
                                 small BPE, HuggingFace's ids with the small BPE (truncated to 77,
                                 not padded), and open_clip's cleaned text
"""
import gzip
import html
import json
import os
import shutil
import sys

import ftfy
import open_clip
import transformers
from open_clip.tokenizer import SimpleTokenizer, _clean_lower, bytes_to_unicode, default_bpe, whitespace_clean
from transformers import CLIPTokenizer

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/clip_tokenizer"
SMALL_MERGES = 3000
CONTEXT = 77

HATEFUL_MEMES_LIKE = [
    "when you realize it's monday again",
    "look how many people love you",
    "its their character not their color that matters",
    "when your mom finds the cookies you hid under the bed",
    "me explaining to my dog why he can't eat chocolate 🍫🐶",
    "BREAKING NEWS: local man discovers vegetables!!!",
]

TEXTS = [
    "a photo of a cat",
    "",
    "   ",
    "Hello, World!",
    "SHOUTING IN ALL CAPS",
    # html entities: named, numeric, without semicolon, double-escaped, upper-case (ftfy), and a
    # `<` that switches ftfy's own unescaping off (open_clip's two html.unescape passes remain).
    "Tom &amp; Jerry &lt;3 &quot;quoted&quot; &#39;single&#39; &hellip; &#x2019; &eacute;",
    "fish &amp;amp; chips &amp;amp;amp;lt;b&amp;gt; &amp no semicolon &notit;",
    "<b>bold</b> &amp;amp; more",
    "first line &amp;amp;\n<i>second</i> &amp;amp;amp;\nthird &amp;amp;amp;",
    "P&EACUTE;REZ &NTILDE;and&uacute; &#128512; &#0; &#x110000;",
    # ftfy: curly quotes, ligatures, full width, NFC, terminal escapes, control characters, C1.
    "\u201cHe said\u201d \u2018don\u2019t\u2019 \u201etyped\u201f \u02bcokina",
    "ﬁnal ﬂower ﬀ ﬃ ﬄ ﬅ ﬆ Ĳssel ŉ ǅ",
    "ＬＯＵＤ　ＮＯＩＳＥＳ！ １２３ ｶﾀｶﾅ ﾊﾞﾝｻﾞｲ",
    "cafe\u0301 decomposed, e\u0301\u0301 twice; \u1100\u1161\u11a8 jamo",
    "\x1b[1;31mred bold\x1b[0m text",
    "nul\x00 bel\x07 bom\ufeff tab\there \u206a arabic-ctrl \ufffc obj",
    "\x93smart quotes\x94 from cp1252 \x85 and \x80 euro",
    # numbers, contractions, punctuation.
    "1234567890 3.14159 1,000,000 2nd 10x x²³ ½ ① ٣",
    "I'm you're we've they'll she'd it's can't DON'T WE'LL O'Neil rock'n'roll",
    "wait... what?!?! --- *** ((nested)) [x] {y} <z> @#$%^&*",
    "#MondayMotivation @user_name https://example.com/path?q=1&r=2 www.test.org",
    # scripts and emoji.
    "I love 🍕 so much 😂😂😂 👍🏽 🏳️‍🌈 🇫🇷 👨‍👩‍👧 ❤️",
    "我爱北京天安门 日本語のテキスト 한국어 텍스트",
    "مرحبا بالعالم، هذا اختبار",
    "café naïve résumé Ångström façade Ærø Œuvre straße",
    "ΟΔΟΣ Σίσυφος ΣΑΣ",
    "İstanbul ǅemal",
    "नमस्ते दुनिया สวัสดีครับ",
    "pizza🍕time日本abc123",
    "  lots \t of\n\nwhitespace \u00a0 here \u3000 and\u2028there\u0085  ",
    # the special tokens' names in the text (open_clip's; HuggingFace's).
    "a <start_of_text> b <end_of_text> c <START_OF_TEXT>",
    "x <|startoftext|>y!!<|endoftext|> z",
    # exactly 77 and 78 tokens with start and end; long texts.
    " ".join(["a"] * 75),
    " ".join(["a"] * 76),
    " ".join(["memes"] * 75) + " extra words",
    ("the quick brown fox jumps over the lazy dog. " * 223)[:10000],
    "a" * 10000,
    # ftfy would repair this mojibake; memefuse does not (known difference, see docs/clip.md).
    "sÃ³ cafÃ© voilÃ  â€œquotedâ€",
] + HATEFUL_MEMES_LIKE

MOJIBAKE = {"sÃ³ cafÃ© voilÃ  â€œquotedâ€"}


def small_bpe(out_dir):
    """The first SMALL_MERGES merges, in both formats."""
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    header, merges = lines[0], lines[1 : SMALL_MERGES + 1]
    os.makedirs(out_dir, exist_ok=True)
    # No trailing newline: SimpleTokenizer would read an empty last line as a merge.
    with gzip.GzipFile(os.path.join(out_dir, "bpe_small.txt.gz"), "wb", mtime=0) as f:
        f.write(("\n".join([header] + merges)).encode("utf-8"))
    alphabet = list(bytes_to_unicode().values())
    vocab = alphabet + [c + "</w>" for c in alphabet] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({token: index for index, token in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return os.path.join(out_dir, "bpe_small.txt.gz")


def main():
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(default_bpe(), os.path.join(OUT, "bpe_simple_vocab_16e6.txt.gz"))
    small_dir = os.path.join(OUT, "small")
    small_gz = small_bpe(small_dir)

    full = SimpleTokenizer()
    small = SimpleTokenizer(bpe_path=small_gz)
    hf = CLIPTokenizer.from_pretrained(small_dir)
    # open_clip with ftfy's mojibake repair switched off: what memefuse reproduces.
    unrepaired = SimpleTokenizer()
    unrepaired.clean_fn = lambda text: whitespace_clean(
        html.unescape(html.unescape(ftfy.fix_text(text, fix_encoding=False))).strip()
    ).lower()
    assert full.sot_token_id == 49406 and full.eot_token_id == 49407
    assert hf.bos_token_id == small.sot_token_id and hf.eos_token_id == small.eot_token_id

    cases = []
    for text in TEXTS:
        tokens = full(text, context_length=CONTEXT)[0].tolist()
        case = {
            "text": text,
            "cleaned": _clean_lower(text),
            "open_clip": tokens,
            "open_clip_encode": full.encode(text),
            "open_clip_small": small(text, context_length=CONTEXT)[0].tolist(),
            "hf_small": hf(text, truncation=True, max_length=CONTEXT)["input_ids"],
        }
        if text in MOJIBAKE:
            # What open_clip gives when ftfy's mojibake repair is off: what memefuse must give.
            case["mojibake"] = True
            case["open_clip_without_fix_encoding"] = unrepaired(text, context_length=CONTEXT)[0].tolist()
        cases.append(case)

    lengths = {len(c["open_clip_encode"]) + 2 for c in cases}
    assert 77 in lengths and 78 in lengths, "need texts of exactly 77 and 78 tokens"
    expected = {
        "generator": "scripts/reference/clip_tokenizer_reference.py",
        "versions": {"open_clip": open_clip.__version__, "transformers": transformers.__version__, "ftfy": ftfy.__version__},
        "context_length": CONTEXT,
        "small_merges": SMALL_MERGES,
        "cases": cases,
    }
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=0)
        f.write("\n")
    def unpadded(ids):
        return ids[: len(ids) - ids[::-1].index(small.eot_token_id)]

    differ = sum(c["hf_small"] != unpadded(c["open_clip_small"]) for c in cases)
    print(f"wrote {OUT}: {len(cases)} texts; HuggingFace differs from open_clip (small BPE) on {differ}")


if __name__ == "__main__":
    main()
