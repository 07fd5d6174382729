#!/usr/bin/env python3
"""Writes texts.csv and makers.csv: labels of 1 to 256 UTF-8 bytes, English and Japanese, as
pandas writes them (float64 with 17 digits, NaN as an empty cell). Deterministic (seed 20261202).

    python3 crates/client/tests/sql/data/make_texts.py
"""

import csv
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(20261202)

MAKERS = [
    "TOYOTA",
    "MITSUBISHI HEAVY INDUSTRIES",
    "Kawasaki Heavy Industries, Ltd.",
    "株式会社日立製作所",
    "パナソニックホールディングス株式会社",
    "A",
    "Graduate or professional degree",
    "X" * 256,
]
PREFS = ["北海道札幌市中央区", "東京都千代田区丸の内一丁目", "大阪府", "沖縄県那覇市", "神奈川県横浜市西区みなとみらい"]
NOTES = ["ok", "要再検査（" + "経過観察" * 20 + "）", "follow-up in 6 months, with a note longer than fifteen bytes"]


def main():
    with open(os.path.join(HERE, "texts.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "maker", "pref", "note", "amount"])
        for i in range(300):
            note = rnd.choice(NOTES) if rnd.random() < 0.8 else ""
            amount = repr(rnd.uniform(-1e6, 1e6)) if rnd.random() < 0.9 else ""
            w.writerow([i, rnd.choice(MAKERS), rnd.choice(PREFS), note, amount])
    with open(os.path.join(HERE, "makers.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["maker", "country", "founded"])
        for i, m in enumerate(MAKERS[:-1]):
            w.writerow([m, "Japan" if i != 5 else "Nowhere in particular", 1900 + 7 * i])


if __name__ == "__main__":
    main()
