package lstmlm.cli;

import lstmlm.infer.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lstm serve} in a child JVM under load, sent SIGTERM: every request it answered got a 200 or a
 * 503 (never a 5xx other than that, never a broken answer), and it exits 0 within its grace period.
 */
class ServeSignalTest {
    @TempDir
    Path tmp;

    @Test
    void sigtermUnderLoadFinishesAdmittedRequestsAndExitsZero() throws Exception {
        Path model = TestModels.write(tmp, 200, 32, 2, false, 3, 0.5f);
        ChildJvm child = ChildJvm.start(false, List.of("serve", "--model", model.toString(), "--port", "0",
                "--grace", "5", "--max-queue", "8", "--threads", "1"));
        String ready = child.firstLine(l -> l.contains("ready"), 60);
        assertNotNull(ready, "the server never said it was ready: " + child.err());
        Matcher m = Pattern.compile("http://[^:]+:(\\d+)/").matcher(ready);
        assertTrue(m.find(), ready);
        URI uri = URI.create("http://127.0.0.1:" + m.group(1) + "/v1/generate");
        HttpClient client = HttpClient.newHttpClient();
        ConcurrentLinkedQueue<Integer> statuses = new ConcurrentLinkedQueue<>();
        AtomicBoolean signalled = new AtomicBoolean();
        try (ExecutorService clients = Executors.newFixedThreadPool(16)) {
            List<Future<?>> all = new java.util.ArrayList<>();
            for (int c = 0; c < 16; c++) {
                all.add(clients.submit(() -> {
                    while (true) {
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri)
                                    .POST(HttpRequest.BodyPublishers.ofString("{\"words\": 100}")).build(), HttpResponse.BodyHandlers.ofString());
                            statuses.add(r.statusCode());
                            if (r.statusCode() == 200 && !r.body().contains("\"words\":[")) throw new AssertionError("broken answer: " + r.body());
                        } catch (IOException e) {
                            if (signalled.get()) return null; // the server stopped accepting
                            throw e;
                        }
                    }
                }));
            }
            Thread.sleep(1500);
            long t0 = System.nanoTime();
            signalled.set(true);
            child.signal("TERM");
            int exit = child.waitFor();
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertEquals(0, exit, child.err());
            assertTrue(seconds < 5 + 3, "exited " + seconds + " s after SIGTERM, grace 5 s");
            for (Future<?> f : all) f.get(30, TimeUnit.SECONDS);
        }
        assertTrue(statuses.contains(200), "no request was served: " + statuses);
        for (int s : statuses) assertTrue(s == 200 || s == 503, "status " + s);
        assertTrue(child.awaitLine(l -> l.contains("lstm serve: stopped"), 5), "no \"stopped\" line");
    }
}
