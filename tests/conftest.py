from hypothesis import settings

# Stateful and property tests: no per-example deadline (CI machines vary in speed), and a fixed
# budget so the suite's run time stays predictable.
settings.register_profile("default", deadline=None, max_examples=100)
settings.load_profile("default")
