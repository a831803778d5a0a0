#!/usr/bin/env python3
"""Deterministic model and data files for the docproc fixture (seeded, so regeneration is stable)."""
import json, os, random, sys

root = sys.argv[1]
rnd = random.Random(20261126)

def write(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

write("components/ocr/models/text-recognizer.onnx", bytes(rnd.getrandbits(8) for _ in range(96 * 1024)))
m = "components/embedding/models/minilm-l6-v2/"
write(m + "config.json", json.dumps({"hidden_size": 384, "num_hidden_layers": 6, "model_type": "bert"}, indent=2) + "\n")
write(m + "modules.json", json.dumps([{"idx": 0, "name": "0", "type": "sentence_transformers.models.Transformer"},
                                      {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]) + "\n")
write(m + "1_Pooling/config.json", json.dumps({"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True}) + "\n")
write(m + "tokenizer.json", json.dumps({"version": "1.0", "model": {"type": "WordPiece", "vocab": {w: i for i, w in enumerate(["[PAD]", "[UNK]", "the", "invoice", "total"])}}}) + "\n")
write(m + "model.safetensors", bytes(rnd.getrandbits(8) for _ in range(128 * 1024)))
rows = [json.dumps({"document": f"Invoice {i}: total {rnd.randint(10, 999)} EUR", "summary": f"Invoice {i}."}) for i in range(400)]
write("components/summarizer/data/train.jsonl", "\n".join(rows) + "\n")
# A CRLF text file for the legacy DVC 2.x entry (md5-dos2unix hashes it as if it had LF endings).
write("components/summarizer/data/stopwords.txt", b"a\r\nan\r\nand\r\nthe\r\nof\r\n")
