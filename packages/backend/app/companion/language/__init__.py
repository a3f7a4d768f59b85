"""Understanding what the user wrote, shared by the reply pipeline and memory formation:
emotion, restorative activities, text helpers."""
