/**
 * Minimal typings of the parts of autocannon 8's programmatic API the benchmark uses (the package ships no
 * types; see node_modules/autocannon/README.md "API" and "Results").
 */
declare module 'autocannon' {
  interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly stddev: number;
    readonly min: number;
    readonly max: number;
    readonly total: number;
    readonly p50: number;
    readonly p90: number;
    readonly p97_5: number;
    readonly p99: number;
  }
  interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    /** Worker threads firing requests (so load generation does not share the server's event loop). */
    workers?: number;
    timeout?: number;
    title?: string;
  }
  interface Result {
    readonly title?: string;
    /** Requests per second samples (average = mean requests/s). */
    readonly requests: Histogram;
    /** Latency in milliseconds. */
    readonly latency: Histogram;
    readonly throughput: Histogram;
    /** Seconds. */
    readonly duration: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
