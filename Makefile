# The same commands as ./dev (which needs no make): make lab, make lab-down, make test.
.PHONY: lab lab-down test test-full

lab:
	./dev lab

lab-down:
	./dev lab-down

test:
	./dev test

test-full:
	./dev test --full
