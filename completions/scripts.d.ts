// The completion scripts, imported as text (`with { type: "text" }`) and embedded in the binary.
declare module "*/sv.bash" {
  const text: string;
  export default text;
}
declare module "*/_sv" {
  const text: string;
  export default text;
}
declare module "*/sv.fish" {
  const text: string;
  export default text;
}
