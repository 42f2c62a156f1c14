"""Constants shared by the quiz tests (imported as a plain module: tests are not packages)."""

from servelab.settings import PROJECT_ROOT

FLAGSHIP = "fastapi-for-ml-apis"
LIMITED = "limited-quiz"
FLAGSHIP_DIR = PROJECT_ROOT / "exercises" / FLAGSHIP

LIMITED_QUIZ = """
title = "Limited quiz"
attempts_allowed = 2
time_limit_minutes = 5
shuffle_questions = true
shuffle_options = true
show_answers = "after_last_attempt"

[[questions]]
id = "split"
prompt = "Which split matches how the model will be used?"
explanation = "SECRET-EXPLANATION-SPLIT: test on the future."
section = "temporal-split"
answer = "time"
options = [
  { id = "time", text = "By time", feedback = "SECRET-FEEDBACK-TIME" },
  { id = "random", text = "At random", feedback = "SECRET-FEEDBACK-RANDOM" },
  { id = "kfold", text = "Shuffled k-fold" },
  { id = "train", text = "Score on the training rows" },
]

[[questions]]
id = "leaks"
type = "multiple"
prompt = "Which columns leak?"
explanation = "SECRET-EXPLANATION-LEAKS"
section = "leakage"
answers = ["id", "label"]
options = [
  { id = "id", text = "customer id" },
  { id = "label", text = "churned" },
  { id = "tenure", text = "tenure" },
  { id = "spend", text = "spend" },
]

[[questions]]
id = "p50"
type = "numeric"
prompt = "Median of 1, 2, 3, 4?"
explanation = "SECRET-EXPLANATION-P50"
section = "latency-and-monitoring"
answer = 2.5
tolerance = 0.01
"""
