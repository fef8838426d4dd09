package lstmlm.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.infer.BeamSearch;
import lstmlm.infer.Model;
import lstmlm.infer.SentenceScore;
import lstmlm.infer.Session;
import lstmlm.infer.TestModels;
import lstmlm.infer.TopK;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The service over loopback against the library: each endpoint's numbers equal a session's for the
 * same input, every kind of bad input is a 4xx with one line, load beyond the queue is a 503 with
 * Retry-After, and closing under load answers every admitted request.
 */
class ServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static Model model;
    static Server server;
    static HttpClient client;

    @BeforeAll
    static void start() throws IOException {
        model = Model.load(TestModels.write(dir, 60, 16, 2, false, 7, 0.8f));
        server = Server.start(model, new Server.Options("127.0.0.1", 0, 16, 200, 64,
                new Limits(4096, 8, 40, 50, 20, 4), 5));
        client = HttpClient.newHttpClient();
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    static HttpResponse<String> post(String path, byte[] body) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(String path, String body) throws Exception {
        return post(path, body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    static HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthIsReadyOnceWarm() throws Exception {
        HttpResponse<String> r = get("/health");
        assertEquals(200, r.statusCode());
        assertEquals("ready", JSON.readTree(r.body()).get("status").asText());
    }

    @Test
    void scoreIsTheSessionsScoreWithPerTokenLogProbabilities() throws Exception {
        HttpResponse<String> r = post("/v1/score", "{\"sentences\": [\"w3 w4 w5\", \"w9 nosuchword w2\"], \"per_token\": true}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode results = JSON.readTree(r.body()).get("results");
        try (Session s = model.newSession()) {
            List<List<String>> sentences = List.of(List.of("w3", "w4", "w5"), List.of("w9", "nosuchword", "w2"));
            for (int i = 0; i < 2; i++) {
                float[] perToken = new float[4];
                SentenceScore expected = s.score(sentences.get(i), perToken);
                JsonNode got = results.get(i);
                assertEquals(expected.logProbability(), got.get("log_prob").asDouble(), 0.0, "sentence " + i);
                assertEquals(expected.tokens(), got.get("tokens").asInt());
                assertEquals(expected.unknownWords(), got.get("unknown").asInt());
                for (int t = 0; t < 4; t++) assertEquals(perToken[t], (float) got.get("token_log_probs").get(t).asDouble(), 0f);
            }
        }
    }

    @Test
    void nextIsTheSessionsTopK() throws Exception {
        HttpResponse<String> r = post("/v1/next", "{\"context\": \"w5 w6\", \"k\": 5}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode next = JSON.readTree(r.body()).get("next");
        try (Session s = model.newSession()) {
            s.feed("<eos>");
            s.feed("w5");
            s.feed("w6");
            TopK top = s.topK(5);
            for (int i = 0; i < 5; i++) {
                assertEquals(top.word(i), next.get(i).get("word").asText());
                assertEquals(top.probability(i), (float) next.get(i).get("probability").asDouble(), 0f);
            }
        }
    }

    @Test
    void generateSamplesAsTheLibraryAndStreamsAndSearches() throws Exception {
        HttpResponse<String> r = post("/v1/generate", "{\"prompt\": \"w7\", \"words\": 12, \"temperature\": 0.9, \"top_k\": 10, \"seed\": 42}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode words = JSON.readTree(r.body()).get("words");
        List<String> expected = new ArrayList<>();
        try (Session s = model.newSession()) {
            s.feed("<eos>");
            s.feed("w7");
            SplittableRandom random = new SplittableRandom(42);
            for (int i = 0; i < 12; i++) {
                int id = s.sample(0.9f, 10, random);
                expected.add(model.word(id));
                s.feed(id);
            }
        }
        List<String> got = new ArrayList<>();
        words.forEach(w -> got.add(w.asText()));
        assertEquals(expected, got);

        HttpResponse<String> sse = post("/v1/generate", "{\"prompt\": \"w7\", \"words\": 12, \"temperature\": 0.9, \"top_k\": 10, \"seed\": 42, \"stream\": true}");
        assertEquals(200, sse.statusCode());
        assertTrue(sse.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> events = sse.body().lines().filter(l -> l.startsWith("data: ")).toList();
        assertEquals(13, events.size(), sse.body());
        for (int i = 0; i < 12; i++) assertEquals(expected.get(i), JSON.readTree(events.get(i).substring(6)).get("word").asText());
        assertTrue(JSON.readTree(events.get(12).substring(6)).get("done").asBoolean());

        HttpResponse<String> beam = post("/v1/generate", "{\"prompt\": \"w7\", \"words\": 10, \"beam\": 3}");
        assertEquals(200, beam.statusCode(), beam.body());
        BeamSearch.Hypothesis best = new BeamSearch(model, 3)
                .search(new int[]{model.vocabulary().eosId(), model.idOrUnk("w7")}, new BeamSearch.Options(10, true, true)).getFirst();
        assertEquals(best.logProbability(), JSON.readTree(beam.body()).get("log_prob").asDouble(), 0.0);
    }

    @Test
    void badInputIsA4xxWithOneLine() throws Exception {
        record Case(String path, byte[] body, int status, String says) {}
        byte[] invalidUtf8 = {'{', '"', 'c', 'o', 'n', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
        List<Case> cases = List.of(
                new Case("/v1/score", "{\"sentences\": [\"a\"".getBytes(), 400, "not valid JSON"),
                new Case("/v1/score", "[1, 2]".getBytes(), 400, "JSON object"),
                new Case("/v1/score", new byte[0], 400, "empty"),
                new Case("/v1/score", "{\"sentences\": \"w3 w4\"}".getBytes(), 400, "list of strings"),
                new Case("/v1/score", "{\"sentences\": [3]}".getBytes(), 400, "sentences[0]"),
                new Case("/v1/score", "{\"sentences\": []}".getBytes(), 400, "empty"),
                new Case("/v1/score", "{\"sentences\": [\"   \"]}".getBytes(), 400, "no words"),
                new Case("/v1/score", "{\"sentences\": [\"a\"], \"extra\": 1}".getBytes(), 400, "Unknown field 'extra'"),
                new Case("/v1/score", "{\"sentences\": [\"a\"], \"sentences\": [\"b\"]}".getBytes(), 400, "not valid JSON"),
                new Case("/v1/score", "{\"sentences\": [\"a\"]} {}".getBytes(), 400, "not valid JSON"),
                new Case("/v1/score", "{\"sentences\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}".getBytes(), 400, "limit is 8"),
                new Case("/v1/score", ("{\"sentences\": [\"" + "w2 ".repeat(41) + "\"]}").getBytes(), 400, "limit is 40"),
                new Case("/v1/score", ("{\"sentences\": [\"" + "w".repeat(5000) + "\"]}").getBytes(), 413, "limit is 4096"),
                new Case("/v1/score", "{\"sentences\": [\"a\"], \"per_token\": \"yes\"}".getBytes(), 400, "true or false"),
                new Case("/v1/next", invalidUtf8, 400, "not valid JSON"),
                new Case("/v1/next", "{\"k\": 0}".getBytes(), 400, "'k' must be a whole number from 1 to 20"),
                new Case("/v1/next", "{\"k\": 2.5}".getBytes(), 400, "'k'"),
                new Case("/v1/next", "{\"k\": \"3\"}".getBytes(), 400, "'k'"),
                new Case("/v1/next", "{\"context\": null}".getBytes(), 400, "'context' must be a string"),
                new Case("/v1/generate", "{\"words\": 51}".getBytes(), 400, "'words'"),
                new Case("/v1/generate", "{\"temperature\": -1}".getBytes(), 400, "'temperature'"),
                new Case("/v1/generate", "{\"seed\": 1e30}".getBytes(), 400, "'seed'"),
                new Case("/v1/generate", "{\"beam\": 2, \"stream\": true}".getBytes(), 400, "do not go together"),
                new Case("/v1/nothing", "{}".getBytes(), 404, "No such endpoint"));
        for (Case c : cases) {
            HttpResponse<String> r = post(c.path(), c.body());
            assertEquals(c.status(), r.statusCode(), c.path() + " " + new String(c.body()) + " -> " + r.body());
            String message = JSON.readTree(r.body()).get("error").asText();
            assertTrue(message.contains(c.says()), "message for " + new String(c.body()) + ": " + message);
            assertFalse(message.contains("\n") || message.contains("\tat ") || message.contains("Exception"), message);
        }
        assertEquals(405, get("/v1/score").statusCode());
        assertEquals(405, post("/health", "{}").statusCode());
    }

    @Test
    void metricsCountRequestsAndBatches() throws Exception {
        post("/v1/next", "{\"context\": \"w5\"}");
        String text = get("/metrics").body();
        assertTrue(text.contains("lstm_requests_total{endpoint=\"next\",status=\"200\"}"), text);
        assertTrue(text.contains("lstm_request_seconds_bucket{endpoint=\"next\",le=\"+Inf\"}"), text);
        assertTrue(text.contains("lstm_step_seconds_count "), text);
        assertTrue(text.contains("lstm_batch_rows_bucket{le=\"1\"}"), text);
        assertTrue(text.contains("lstm_tokens_total "), text);
        assertTrue(text.contains("lstm_requests_in_flight "), text);
    }

    @Test
    void aSlowOrVanishedClientHoldsNoSlot() throws Exception {
        try (Model m = Model.load(TestModels.write(dir, 60, 16, 2, false, 9, 0.8f));
             Server one = Server.start(m, new Server.Options("127.0.0.1", 0, 8, 100, 1, Limits.DEFAULT, 2))) {
            URI next = URI.create("http://127.0.0.1:" + one.port() + "/v1/next");
            // a client that sends half a body and stalls, and one that vanishes mid-body
            java.net.Socket slow = new java.net.Socket("127.0.0.1", one.port()), gone = new java.net.Socket("127.0.0.1", one.port());
            for (java.net.Socket s : List.of(slow, gone)) {
                s.getOutputStream().write(("POST /v1/next HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{\"context\": \"w").getBytes());
                s.getOutputStream().flush();
            }
            gone.close();
            Thread.sleep(200);
            // with one slot in all, the next request is served: neither of them holds it
            for (int i = 0; i < 3; i++) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(next).POST(HttpRequest.BodyPublishers.ofString("{\"context\": \"w3\"}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
            }
            slow.close();
        }
    }

    @Test
    void beyondTheQueueIs503WithRetryAfterAndClosingAnswersEveryAdmittedRequest() throws Exception {
        try (Model m = Model.load(TestModels.write(dir, 60, 16, 2, false, 8, 0.8f));
             ExecutorService clients = Executors.newFixedThreadPool(24)) {
            Server small = Server.start(m, new Server.Options("127.0.0.1", 0, 8, 500, 2, Limits.DEFAULT, 10));
            URI uri = URI.create("http://127.0.0.1:" + small.port() + "/v1/generate");
            ConcurrentLinkedQueue<Integer> statuses = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<String> retryAfter = new ConcurrentLinkedQueue<>();
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < 24; c++) {
                done.add(clients.submit(() -> {
                    for (int i = 0; i < 5; i++) {
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri)
                                    .POST(HttpRequest.BodyPublishers.ofString("{\"words\": 200}")).build(), HttpResponse.BodyHandlers.ofString());
                            statuses.add(r.statusCode());
                            r.headers().firstValue("Retry-After").ifPresent(retryAfter::add);
                        } catch (IOException e) {
                            return; // refused once the server stopped accepting
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }));
            }
            Thread.sleep(300);
            small.close();
            for (Future<?> f : done) f.get();
            assertTrue(statuses.contains(200), "no request completed: " + statuses);
            assertTrue(statuses.contains(503), "nothing was refused with 2 admitted at a time: " + statuses);
            for (int s : statuses) assertTrue(s == 200 || s == 503, "status " + s + " in " + statuses);
            assertFalse(retryAfter.isEmpty(), "a 503 without Retry-After");
            assertNotNull(small);
        }
    }
}
