package lstmlm.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.infer.Latencies;
import lstmlm.infer.Model;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * Drives a server on loopback with C concurrent clients, each sending {@code POST /v1/next} with a
 * context of {@link #CONTEXT_WORDS} random words (a stream scored token by token sends its words so
 * far), for a fixed time after a warm-up of as long; reports tokens/s (words fed, {@code <eos>}
 * included), request p50/p99 and the share of 503s. Bounded: C threads, loopback only, a time limit.
 */
public final class LoadGenerator {
    private LoadGenerator() {}

    public static final int CONTEXT_WORDS = 8;

    public record Result(int clients, double tokensPerS, double requestsPerS, double p50Us, double p99Us, double busyShare, long errors) {
        public ObjectNode toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("clients", clients);
            o.put("tokens_per_s", tokensPerS);
            o.put("requests_per_s", requestsPerS);
            o.put("p50_us", p50Us);
            o.put("p99_us", p99Us);
            o.put("busy_share", busyShare);
            o.put("errors", errors);
            return o;
        }

        public String toText() {
            return String.format(Locale.ROOT, "clients %4d  %9.0f tokens/s  %8.0f requests/s  p50 %9.1f us  p99 %9.1f us  503s %5.1f %%  errors %d",
                    clients, tokensPerS, requestsPerS, p50Us, p99Us, 100 * busyShare, errors);
        }
    }

    /** {@code clients} clients against the server on {@code port} of this machine, {@code seconds} measured. */
    public static Result run(Model model, int port, int clients, double seconds, long seed) throws InterruptedException {
        URI uri = URI.create("http://127.0.0.1:" + port + "/v1/next");
        HttpClient http = HttpClient.newBuilder().executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()).build();
        AtomicBoolean measuring = new AtomicBoolean(), stop = new AtomicBoolean();
        LongAdder ok = new LongAdder(), busy = new LongAdder(), errors = new LongAdder();
        long[][] nanos = new long[clients][1 << 13];
        int[] recorded = new int[clients];
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            int me = c;
            threads.add(Thread.ofVirtual().start(() -> {
                SplittableRandom random = new SplittableRandom(seed + me);
                while (!stop.get()) {
                    StringBuilder context = new StringBuilder();
                    for (int i = 0; i < CONTEXT_WORDS; i++) {
                        if (i > 0) context.append(' ');
                        context.append(model.word(random.nextInt(model.vocabularySize())));
                    }
                    String body = "{\"context\": \"" + context.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\", \"k\": 5}";
                    long t0 = System.nanoTime();
                    int status;
                    try {
                        status = http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                HttpResponse.BodyHandlers.discarding()).statusCode();
                    } catch (IOException e) {
                        status = -1;
                    } catch (InterruptedException e) {
                        return;
                    }
                    long t = System.nanoTime() - t0;
                    if (!measuring.get()) continue;
                    if (status == 200) {
                        ok.increment();
                        if (recorded[me] < nanos[me].length) nanos[me][recorded[me]++] = t;
                    } else if (status == 503) {
                        busy.increment();
                    } else {
                        errors.increment();
                    }
                }
            }));
        }
        Thread.sleep((long) (seconds * 1000)); // warm-up
        measuring.set(true);
        long t0 = System.nanoTime();
        Thread.sleep((long) (seconds * 1000));
        measuring.set(false);
        double elapsed = (System.nanoTime() - t0) / 1e9;
        stop.set(true);
        for (Thread t : threads) t.join();
        http.close();
        Latencies latencies = Latencies.merge(nanos, recorded);
        long requests = ok.sum(), refused = busy.sum();
        return new Result(clients, requests * (CONTEXT_WORDS + 1) / elapsed, requests / elapsed,
                latencies.micros(0.50), latencies.micros(0.99),
                requests + refused == 0 ? 0 : (double) refused / (requests + refused), errors.sum());
    }
}
