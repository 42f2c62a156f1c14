"""A correct, tiny submission: the mean of the target column is the model."""

import csv
import json
import os

with open(os.path.join(os.environ["DATA_DIR"], "train.csv"), newline="") as handle:
    values = [float(row["y"]) for row in csv.DictReader(handle)]
with open(os.path.join(os.environ["MODEL_DIR"], "model.json"), "w") as handle:
    json.dump({"mean": sum(values) / len(values)}, handle)
print(f"trained on {len(values)} rows")
