package lstmlm.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import lstmlm.infer.DynamicBatcher;
import lstmlm.infer.Model;
import lstmlm.infer.Session;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * The HTTP service over one model: the JDK's own HTTP server (no dependency), a virtual thread per
 * exchange, every word fed through one {@link DynamicBatcher}. Admission is bounded: at most
 * {@code maxQueue} requests computing at once (a slot is freed before the answer is written),
 * beyond that a 503 with {@code Retry-After} at once, so memory
 * never grows with load. A request body is read (bounded by the limits) before the request is
 * admitted to the model, so a slow client holds no batch slot. Bad input is a 4xx with a one-line
 * JSON message; anything else a 500 with a one-line message, never a stack trace.
 *
 * <p>Endpoints: {@code POST /v1/score}, {@code POST /v1/next}, {@code POST /v1/generate} (JSON in and
 * out; generate streams server-sent events when asked), {@code GET /health} (200 once the model is
 * loaded and warmed, 503 before and while stopping), {@code GET /metrics} (Prometheus text).
 */
public final class Server implements AutoCloseable {
    /**
     * @param maxQueue     requests admitted at once (computing or waiting for a batch); more get a 503
     * @param graceSeconds how long {@link #close} lets admitted requests finish
     */
    public record Options(String host, int port, int maxBatch, long maxWaitMicros, int maxQueue, Limits limits, int graceSeconds) {
        public Options {
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, got " + port);
            if (maxBatch < 1) throw new IllegalArgumentException("max batch must be >= 1, got " + maxBatch);
            if (maxWaitMicros < 0) throw new IllegalArgumentException("max wait must be >= 0, got " + maxWaitMicros);
            if (maxQueue < 1) throw new IllegalArgumentException("max queue must be >= 1, got " + maxQueue);
            if (graceSeconds < 0) throw new IllegalArgumentException("grace must be >= 0 seconds, got " + graceSeconds);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] NO_BODY = new byte[0];

    private final Model model;
    private final Options options;
    private final DynamicBatcher batcher;
    private final Metrics metrics;
    private final Service service;
    private final Semaphore admission;
    private final HttpServer http;
    private final ExecutorService exchanges = Executors.newVirtualThreadPerTaskExecutor();
    private volatile boolean ready, stopping;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private Server(Model model, Options options, java.util.concurrent.ThreadFactory batcherThread) throws IOException {
        this.model = model;
        this.options = options;
        this.admission = new Semaphore(options.maxQueue());
        this.metrics = new Metrics(() -> options.maxQueue() - admission.availablePermits(), () -> batcher().queued());
        this.batcher = new DynamicBatcher(model, options.maxBatch(), options.maxWaitMicros(), metrics::batch, batcherThread);
        this.service = new Service(model, batcher, metrics);
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 0);
        http.setExecutor(exchanges);
        http.createContext("/", this::handle);
    }

    private DynamicBatcher batcher() {
        return batcher;
    }

    /** Binds, starts serving, and warms the model (health turns ready after). */
    public static Server start(Model model, Options options) throws IOException {
        return start(model, options, DynamicBatcher.defaultWorker());
    }

    /** The same, its batcher's worker thread made by {@code batcherThread} ({@link DynamicBatcher}'s last argument). */
    public static Server start(Model model, Options options, java.util.concurrent.ThreadFactory batcherThread) throws IOException {
        Server s = new Server(model, options, batcherThread);
        s.http.start();
        s.warmUp();
        return s;
    }

    /** The port it listens on (the one the system chose for port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** Steps enough words through the batcher for the JIT to compile the step, then reports ready. */
    private void warmUp() {
        try (Session s = batcher.newSession()) {
            int eos = model.vocabulary().eosId();
            for (int i = 0; i < 2000; i++) {
                s.feed(i % 50 == 0 ? eos : i % model.vocabularySize());
                s.logProbability(eos);
            }
        }
        ready = true;
    }

    private void handle(HttpExchange x) {
        long t0 = System.nanoTime();
        String endpoint = endpoint(x.getRequestURI().getPath());
        int status;
        try {
            status = route(x, endpoint);
        } catch (BadRequest e) {
            status = e.status();
            sendError(x, status, e.getMessage());
        } catch (RuntimeException | Error e) {
            if (stopping) { // the batcher stopped under an admitted request at the end of the grace period
                status = 503;
                sendError(x, 503, "The server stopped before this request finished");
            } else {
                status = 500;
                System.err.println("lstm serve: " + endpoint + " failed: " + e);
                sendError(x, 500, "The server failed on this request: " + e.getClass().getSimpleName());
            }
        } finally {
            x.close();
        }
        metrics.request(endpoint, status, System.nanoTime() - t0);
    }

    /** The endpoint's name for metrics: one of a fixed few, so outside paths cannot grow the label set. */
    private static String endpoint(String path) {
        return switch (path) {
            case "/v1/score" -> "score";
            case "/v1/next" -> "next";
            case "/v1/generate" -> "generate";
            case "/health" -> "health";
            case "/metrics" -> "metrics";
            default -> "other";
        };
    }

    private int route(HttpExchange x, String endpoint) {
        switch (endpoint) {
            case "health" -> {
                requireMethod(x, "GET");
                boolean up = ready && !stopping;
                return sendJson(x, up ? 200 : 503, JSON.createObjectNode().put("status", up ? "ready" : stopping ? "stopping" : "warming"));
            }
            case "metrics" -> {
                requireMethod(x, "GET");
                return send(x, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render().getBytes(StandardCharsets.UTF_8));
            }
            case "score", "next", "generate" -> {
                requireMethod(x, "POST");
                byte[] body = readBody(x);
                // decoded before admission: a bad request never takes a slot
                Object request = switch (endpoint) {
                    case "score" -> Requests.score(body, options.limits());
                    case "next" -> Requests.next(body, options.limits());
                    default -> Requests.generate(body, options.limits());
                };
                if (stopping) return busy(x, "The server is stopping");
                if (!admission.tryAcquire()) return busy(x, "The server is busy: " + options.maxQueue() + " requests are in flight");
                ObjectNode result;
                boolean held = true;
                try {
                    if (request instanceof Requests.Generate g) {
                        if (g.stream()) { // holds its slot while it computes, not for its last event
                            held = false;
                            return streamGenerate(x, g);
                        }
                        result = service.generate(g, null);
                    } else if (request instanceof Requests.Score sc) {
                        result = service.score(sc);
                    } else {
                        result = service.next((Requests.Next) request);
                    }
                } finally {
                    if (held) admission.release();
                }
                // the slot is free before the answer leaves: a client that sends its next request at once finds it free
                return sendJson(x, 200, result);
            }
            default -> throw new BadRequest(404, "No such endpoint: POST /v1/score, /v1/next, /v1/generate; GET /health, /metrics");
        }
    }

    /**
     * Server-sent events: one per word, then the whole result. Owns the caller's admission slot and
     * frees it once the words are drawn, before the last event: a client that starts its next
     * request as soon as the stream ends finds the slot free.
     */
    private int streamGenerate(HttpExchange x, Requests.Generate r) {
        boolean held = true;
        try {
            x.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            x.getResponseHeaders().set("Cache-Control", "no-cache");
            x.sendResponseHeaders(200, 0);
            OutputStream out = x.getResponseBody();
            ObjectNode done = service.generate(r, word -> event(out, JSON.createObjectNode().put("word", word)));
            done.put("done", true);
            admission.release();
            held = false;
            event(out, done);
            out.close();
        } catch (IOException | java.io.UncheckedIOException e) {
            // the client went away mid-stream: nothing to answer
        } finally {
            if (held) admission.release();
        }
        return 200;
    }

    private static void event(OutputStream out, ObjectNode o) {
        try {
            out.write(("data: " + o + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void requireMethod(HttpExchange x, String method) {
        if (!x.getRequestMethod().equals(method)) {
            x.getResponseHeaders().set("Allow", method);
            throw new BadRequest(405, "Use " + method + " for " + x.getRequestURI().getPath());
        }
    }

    /** The body, at most the limit's bytes: more is a 413 (told by Content-Length before reading, or found while reading). */
    private byte[] readBody(HttpExchange x) {
        int limit = options.limits().maxBodyBytes();
        String length = x.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.strip()) > limit) {
                    throw new BadRequest(413, "The body has " + length.strip() + " bytes; the limit is " + limit);
                }
            } catch (NumberFormatException e) {
                throw new BadRequest(400, "Content-Length is not a number");
            }
        }
        try (InputStream in = x.getRequestBody()) {
            byte[] body = in.readNBytes(limit + 1);
            if (body.length > limit) throw new BadRequest(413, "The body has more than " + limit + " bytes; the limit is " + limit);
            return body.length == 0 ? NO_BODY : body;
        } catch (IOException e) {
            throw new BadRequest(400, "The body could not be read: " + e.getClass().getSimpleName());
        }
    }

    private int busy(HttpExchange x, String message) {
        x.getResponseHeaders().set("Retry-After", "1");
        sendError(x, 503, message);
        return 503;
    }

    private static void sendError(HttpExchange x, int status, String message) {
        sendJson(x, status, JSON.createObjectNode().put("error", message));
    }

    private static int sendJson(HttpExchange x, int status, ObjectNode body) {
        return send(x, status, "application/json", body.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static int send(HttpExchange x, int status, String type, byte[] body) {
        try {
            x.getResponseHeaders().set("Content-Type", type);
            x.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                try (OutputStream out = x.getResponseBody()) {
                    out.write(body);
                }
            }
        } catch (IOException e) {
            // the client went away: nothing more to tell it
        }
        return status;
    }

    /**
     * Stops accepting, lets admitted requests finish for up to the grace period, then stops the
     * batcher (completing what it has queued). Health turns 503 at once. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        stopping = true;
        http.stop(options.graceSeconds());
        ready = false;
        batcher.close();
        exchanges.shutdownNow();
    }
}
