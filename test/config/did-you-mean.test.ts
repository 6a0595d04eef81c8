// "did you mean" hints: close typos get one, unrelated words do not.
import { expect, test } from "bun:test";
import { didYouMean, editDistance } from "../../src/errors.ts";

const KEYS = ["command", "port", "health_check", "depends_on", "env", "env_file", "restart", "web", "db", "a"];

test.each([
  ["helth_check", "health_check"],
  ["prot", "port"],
  ["wbe", "web"],
  ["dbb", "db"],
  ["comand", "command"],
  ["Command", "command"],
  ["dependson", "depends_on"],
  ["envfile", "env_file"],
  ["zz", undefined],
  ["frobnicate", undefined],
  ["x", undefined],
  ["restartt_delay", undefined],
])("%s -> %s", (word, guess) => {
  expect(didYouMean(word, KEYS)).toBe(guess);
});

test.each([
  ["", "", 0],
  ["abc", "abc", 0],
  ["abc", "acb", 1],
  ["kitten", "sitting", 3],
  ["", "abc", 3],
])("editDistance(%s, %s) = %d", (a, b, d) => {
  expect(editDistance(a, b)).toBe(d);
});
