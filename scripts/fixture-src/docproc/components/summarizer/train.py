"""Deterministic stand-in for LoRA training: derives adapter files from the training data."""
import hashlib, json, os, sys

data, out_dir, metrics = sys.argv[1:4]
raw = open(data, "rb").read()
os.makedirs(out_dir, exist_ok=True)
os.makedirs(os.path.dirname(metrics), exist_ok=True)
with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
    json.dump({"base_model_name_or_path": "qwen2.5-0.5b-instruct", "r": 16, "lora_alpha": 32}, f, indent=2)
seed = hashlib.sha256(raw).digest()
weights = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(2048))
with open(os.path.join(out_dir, "adapter_model.safetensors"), "wb") as f:
    f.write(weights)
with open(os.path.join(out_dir, "training_args.json"), "w") as f:
    json.dump({"epochs": 3, "learning_rate": 0.0002, "seed": 42}, f)
with open(metrics, "w") as f:
    json.dump({"loss": 0.4213, "rows": raw.count(b"\n")}, f)
