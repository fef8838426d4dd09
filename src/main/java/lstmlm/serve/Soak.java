package lstmlm.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.infer.Model;
import lstmlm.infer.Session;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * A long mixed load against a server on loopback: C clients each sending, at random, next (40 %),
 * score (30 %), generate (20 %: sampled, one in ten streamed, one in twenty a beam of 4), health and
 * metrics (5 % each). Every 50th next or score answer is checked against a library session fed the
 * same words (probabilities within 1e-4, log-probabilities within 1e-4 relative). Reports statuses,
 * mismatches, tokens/s and this process's resident memory (start after the first tenth, peak, end).
 */
public final class Soak {
    private Soak() {}

    public record Result(double seconds, long requests, java.util.Map<Integer, Long> statuses, long ioErrors, long checked,
                         long mismatches, String firstMismatch, double rssStartMb, double rssPeakMb, double rssEndMb) {
        public ObjectNode toJson() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("seconds", seconds);
            o.put("requests", requests);
            ObjectNode s = o.putObject("statuses");
            new java.util.TreeMap<>(statuses).forEach((k, v) -> s.put(Integer.toString(k), v));
            o.put("io_errors", ioErrors);
            o.put("checked", checked);
            o.put("mismatches", mismatches);
            if (firstMismatch != null) o.put("first_mismatch", firstMismatch);
            o.put("rss_start_mb", rssStartMb);
            o.put("rss_peak_mb", rssPeakMb);
            o.put("rss_end_mb", rssEndMb);
            return o;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    public static Result run(Model model, int port, int clients, double seconds, long seed, Consumer<String> progress)
            throws InterruptedException {
        String base = "http://127.0.0.1:" + port;
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()).build();
        ConcurrentHashMap<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
        LongAdder ioErrors = new LongAdder(), checked = new LongAdder(), mismatches = new LongAdder();
        java.util.concurrent.atomic.AtomicReference<String> firstMismatch = new java.util.concurrent.atomic.AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            long mySeed = seed + c;
            threads.add(Thread.ofVirtual().start(() -> {
                SplittableRandom random = new SplittableRandom(mySeed);
                while (!stop.get()) {
                    try {
                        oneRequest(model, http, base, random, statuses, checked, mismatches, firstMismatch);
                    } catch (IOException e) {
                        ioErrors.increment();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }));
        }
        long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
        double rssStart = Double.NaN, peak = 0, rss = 0;
        long nextReport = t0 + 30_000_000_000L;
        while (System.nanoTime() < end) {
            Thread.sleep(1000);
            rss = residentMb();
            long now = System.nanoTime();
            if (Double.isNaN(rssStart) && now - t0 >= (end - t0) / 10) rssStart = rss;
            if (!Double.isNaN(rssStart)) peak = Math.max(peak, rss);
            if (now >= nextReport) {
                nextReport += 30_000_000_000L;
                progress.accept(String.format(Locale.ROOT, "soak %4.0f s: %s, io errors %d, checked %d, mismatches %d, RSS %.0f MB",
                        (now - t0) / 1e9, tally(statuses), ioErrors.sum(), checked.sum(), mismatches.sum(), rss));
            }
        }
        stop.set(true);
        for (Thread t : threads) t.join();
        http.close();
        java.util.Map<Integer, Long> counts = new java.util.TreeMap<>();
        statuses.forEach((k, v) -> counts.put(k, v.sum()));
        long requests = counts.values().stream().mapToLong(Long::longValue).sum();
        return new Result((System.nanoTime() - t0) / 1e9, requests, counts, ioErrors.sum(), checked.sum(), mismatches.sum(),
                firstMismatch.get(), rssStart, peak, rss);
    }

    private static String tally(ConcurrentHashMap<Integer, LongAdder> statuses) {
        StringBuilder sb = new StringBuilder();
        new java.util.TreeMap<>(statuses).forEach((k, v) -> sb.append(sb.isEmpty() ? "" : " ").append(k).append('×').append(v.sum()));
        return sb.toString();
    }

    private static void oneRequest(Model model, HttpClient http, String base, SplittableRandom random,
                                   ConcurrentHashMap<Integer, LongAdder> statuses, LongAdder checked, LongAdder mismatches,
                                   java.util.concurrent.atomic.AtomicReference<String> firstMismatch) throws IOException, InterruptedException {
        int pick = random.nextInt(100);
        String path, body = null;
        List<String> words = randomWords(model, random, 1 + random.nextInt(12));
        if (pick < 40) {
            path = "/v1/next";
            body = "{\"context\": " + JSON.writeValueAsString(String.join(" ", words)) + ", \"k\": 5}";
        } else if (pick < 70) {
            path = "/v1/score";
            body = "{\"sentences\": [" + JSON.writeValueAsString(String.join(" ", words)) + "], \"per_token\": " + random.nextBoolean() + "}";
        } else if (pick < 90) {
            path = "/v1/generate";
            int kind = random.nextInt(20);
            body = "{\"prompt\": " + JSON.writeValueAsString(String.join(" ", words)) + ", \"words\": " + (5 + random.nextInt(16))
                    + (kind == 0 ? ", \"beam\": 4" : ", \"top_k\": 40, \"seed\": " + random.nextInt(1000) + (kind < 3 ? ", \"stream\": true" : ""))
                    + "}";
        } else {
            path = pick < 95 ? "/health" : "/metrics";
        }
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + path));
        r = body == null ? r.GET() : r.POST(HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> response = http.send(r.build(), HttpResponse.BodyHandlers.ofString());
        statuses.computeIfAbsent(response.statusCode(), k -> new LongAdder()).increment();
        if (response.statusCode() != 200 || random.nextInt(50) != 0 || !(pick < 70)) return;
        checked.increment();
        String problem = pick < 40 ? checkNext(model, words, response.body()) : checkScore(model, words, response.body());
        if (problem != null) {
            mismatches.increment();
            firstMismatch.compareAndSet(null, path + " " + body + ": " + problem);
        }
    }

    private static String checkNext(Model model, List<String> context, String body) throws IOException {
        JsonNode next = JSON.readTree(body).get("next");
        try (Session s = model.newSession()) {
            s.feed("<eos>");
            for (String w : context) s.feed(w);
            for (JsonNode n : next) {
                double expected = Math.exp(s.logProbability(n.get("word").asText()));
                if (Math.abs(expected - n.get("probability").asDouble()) > 1e-4) {
                    return n.get("word").asText() + ": " + n.get("probability").asDouble() + " against the library's " + expected;
                }
            }
        }
        return null;
    }

    private static String checkScore(Model model, List<String> words, String body) throws IOException {
        double got = JSON.readTree(body).get("results").get(0).get("log_prob").asDouble();
        try (Session s = model.newSession()) {
            double expected = s.score(words).logProbability();
            return Math.abs(expected - got) <= 1e-4 * Math.abs(expected) + 1e-5 ? null : got + " against the library's " + expected;
        }
    }

    private static List<String> randomWords(Model model, SplittableRandom random, int n) {
        List<String> words = new ArrayList<>(n);
        for (int i = 0; i < n; i++) words.add(model.word(random.nextInt(model.vocabularySize())));
        return words;
    }

    /** This process's resident memory (VmRSS), in MB; NaN where /proc is not there. */
    static double residentMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: no figure
        }
        return Double.NaN;
    }
}
