"""The soak benchmark in small (bench/soak) and what it stands on: the served fakes and the counting."""
