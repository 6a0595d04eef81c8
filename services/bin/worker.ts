// Example worker: calls the api every second and logs what it got.
const url = `http://${process.env.API_ADDR}/hits`;
console.log(`worker ${process.env.SV_INSTANCE} polling ${url}`);
setInterval(async () => {
  try {
    const { hits } = (await (await fetch(url)).json()) as { hits: number };
    console.log(`worker: api has served ${hits} hits`);
  } catch (e) {
    console.log(`worker: api unreachable (${(e as Error).message})`);
  }
}, 1000);
