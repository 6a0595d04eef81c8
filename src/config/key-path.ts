// A key path inside a config file: mapping keys and list indexes, as problems and positions name them.

/** One step of a key path: a mapping key or a list index. */
export type Seg = string | number;
