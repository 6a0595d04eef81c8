// Moved to config/graph.ts. This re-export stays only until config/validate.ts imports "./graph.ts" (then delete it).
export * from "../config/graph.ts";
