package lstmlm.serve;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;

/**
 * The server's counters in Prometheus' text format: requests by endpoint and status, request
 * latency per endpoint and batched-step latency as histograms, batch sizes, tokens, and the gauges
 * of requests in flight and steps queued. Lock-free to record.
 */
final class Metrics {
    /** Histogram bounds in seconds: 100 µs to 10 s. */
    private static final double[] BOUNDS = {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    /** Batch-size histogram bounds. */
    private static final double[] ROWS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

    /** Cumulative-on-output histogram: a count per bucket (the last: above every bound), a sum and a count. */
    static final class Histogram {
        private final double[] bounds;
        private final AtomicLongArray counts;
        private final LongAdder total = new LongAdder();
        private final java.util.concurrent.atomic.DoubleAdder sum = new java.util.concurrent.atomic.DoubleAdder();

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.counts = new AtomicLongArray(bounds.length + 1);
        }

        void observe(double value) {
            int i = 0;
            while (i < bounds.length && value > bounds[i]) i++;
            counts.incrementAndGet(i);
            total.increment();
            sum.add(value);
        }

        void write(StringBuilder out, String name, String labels) {
            long cumulative = 0;
            String sep = labels.isEmpty() ? "" : labels + ",";
            for (int i = 0; i < bounds.length; i++) {
                cumulative += counts.get(i);
                out.append(name).append("_bucket{").append(sep).append("le=\"").append(format(bounds[i])).append("\"} ")
                        .append(cumulative).append('\n');
            }
            cumulative += counts.get(bounds.length);
            out.append(name).append("_bucket{").append(sep).append("le=\"+Inf\"} ").append(cumulative).append('\n');
            String braces = labels.isEmpty() ? "" : "{" + labels + "}";
            out.append(name).append("_sum").append(braces).append(' ').append(format(sum.sum())).append('\n');
            out.append(name).append("_count").append(braces).append(' ').append(cumulative).append('\n');
        }
    }

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final Map<String, Histogram> requestSeconds = new ConcurrentHashMap<>();
    private final Histogram stepSeconds = new Histogram(BOUNDS);
    private final Histogram batchRows = new Histogram(ROWS);
    private final LongAdder tokens = new LongAdder();
    private final IntSupplier inFlight, queued;

    Metrics(IntSupplier inFlight, IntSupplier queued) {
        this.inFlight = inFlight;
        this.queued = queued;
    }

    void request(String endpoint, int status, long nanos) {
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new LongAdder()).increment();
        requestSeconds.computeIfAbsent(endpoint, k -> new Histogram(BOUNDS)).observe(nanos / 1e9);
    }

    void batch(int rows, long nanos) {
        batchRows.observe(rows);
        stepSeconds.observe(nanos / 1e9);
    }

    void tokens(int n) {
        tokens.add(n);
    }

    String render() {
        StringBuilder out = new StringBuilder();
        out.append("# HELP lstm_requests_total Requests answered, by endpoint and HTTP status.\n");
        out.append("# TYPE lstm_requests_total counter\n");
        for (var e : new TreeMap<>(requests).entrySet()) {
            String[] k = e.getKey().split("\u0000");
            out.append("lstm_requests_total{endpoint=\"").append(k[0]).append("\",status=\"").append(k[1]).append("\"} ")
                    .append(e.getValue().sum()).append('\n');
        }
        out.append("# HELP lstm_request_seconds Time from a request's arrival to its answer, by endpoint.\n");
        out.append("# TYPE lstm_request_seconds histogram\n");
        for (var e : new TreeMap<>(requestSeconds).entrySet()) {
            e.getValue().write(out, "lstm_request_seconds", "endpoint=\"" + e.getKey() + "\"");
        }
        out.append("# HELP lstm_step_seconds Time of one batched step.\n# TYPE lstm_step_seconds histogram\n");
        stepSeconds.write(out, "lstm_step_seconds", "");
        out.append("# HELP lstm_batch_rows Streams per batched step.\n# TYPE lstm_batch_rows histogram\n");
        batchRows.write(out, "lstm_batch_rows", "");
        out.append("# HELP lstm_tokens_total Tokens fed to the model (rate() gives tokens/s).\n# TYPE lstm_tokens_total counter\n");
        out.append("lstm_tokens_total ").append(tokens.sum()).append('\n');
        out.append("# HELP lstm_requests_in_flight Requests admitted and not yet answered.\n# TYPE lstm_requests_in_flight gauge\n");
        out.append("lstm_requests_in_flight ").append(inFlight.getAsInt()).append('\n');
        out.append("# HELP lstm_steps_queued Session steps waiting for a batch.\n# TYPE lstm_steps_queued gauge\n");
        out.append("lstm_steps_queued ").append(queued.getAsInt()).append('\n');
        return out.toString();
    }

    private static String format(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.6g", v);
    }
}
