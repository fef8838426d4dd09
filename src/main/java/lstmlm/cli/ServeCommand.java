package lstmlm.cli;

import lstmlm.errors.UserException;
import lstmlm.infer.Model;
import lstmlm.natives.ThreadPolicy;
import lstmlm.serve.Limits;
import lstmlm.serve.Server;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

import java.io.IOException;
import java.net.BindException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over HTTP: POST /v1/score, /v1/next, /v1/generate; GET /health, /metrics.",
                "Concurrent requests share batched steps; beyond --max-queue requests in flight the answer is 503."})
final class ServeCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "FILE", description = "A model or checkpoint .safetensors file.")
    Path model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (default: ${DEFAULT-VALUE}; 0: any free one).")
    int port;

    @Option(names = "--max-batch", defaultValue = "64", paramLabel = "N", description = "Most streams per batched step (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-wait-us", defaultValue = "200", paramLabel = "US",
            description = "Longest a step waits for others to join its batch, in microseconds (default: ${DEFAULT-VALUE}).")
    long maxWaitMicros;

    @Option(names = "--max-queue", defaultValue = "256", paramLabel = "N",
            description = "Requests in flight at most; more are answered 503 with Retry-After (default: ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for the batched steps' products: OpenBLAS's and the batcher's OpenMP team (default: all cores).")
    Integer threads;

    @Option(names = "--grace", defaultValue = "10", paramLabel = "S",
            description = "On SIGTERM or Ctrl-C, seconds admitted requests get to finish (default: ${DEFAULT-VALUE}).")
    int graceSeconds;

    @Option(names = "--max-body-bytes", defaultValue = "1048576", paramLabel = "N", description = "Largest request body (default: ${DEFAULT-VALUE}).")
    int maxBodyBytes;

    @Option(names = "--max-sentences", defaultValue = "256", paramLabel = "N", description = "Sentences per score request (default: ${DEFAULT-VALUE}).")
    int maxSentences;

    @Option(names = "--max-words", defaultValue = "1000", paramLabel = "N",
            description = "Words per sentence, context or prompt (default: ${DEFAULT-VALUE}).")
    int maxWords;

    @Option(names = "--max-generate", defaultValue = "500", paramLabel = "N", description = "Words one generate request may ask for (default: ${DEFAULT-VALUE}).")
    int maxGenerate;

    @Override
    public Integer call() throws InterruptedException {
        Options.atLeast("--max-batch", maxBatch, 1);
        Options.atLeast("--max-queue", maxQueue, 1);
        Options.atLeast("--max-body-bytes", maxBodyBytes, 1);
        Options.atLeast("--max-sentences", maxSentences, 1);
        Options.atLeast("--max-words", maxWords, 1);
        Options.atLeast("--max-generate", maxGenerate, 1);
        Options.atLeast("--grace", graceSeconds, 0);
        if (port < 0 || port > 65535) throw new UserException("--port must be 0..65535, got " + port);
        if (maxWaitMicros < 0) throw new UserException("--max-wait-us must be at least 0, got " + maxWaitMicros);
        int gemmThreads = Options.threads(threads);
        ThreadPolicy.useBlasThreads(gemmThreads);
        // the JDK server's own bounds, process-wide settings that this command owns: open connections,
        // and how long a client may take to send a request (a slow client is cut off, not waited for)
        System.setProperty("jdk.httpserver.maxConnections", Integer.toString(4 * maxQueue + 64));
        System.setProperty("sun.net.httpserver.maxReqTime", "30000");
        Limits limits = new Limits(maxBodyBytes, maxSentences, maxWords, maxGenerate, 1000, 32);
        CountDownLatch stop = new CountDownLatch(1);
        for (String name : new String[]{"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> stop.countDown());
            } catch (IllegalArgumentException unavailable) {
                // no such signal here: the default stays
            }
        }
        try (Model m = Model.load(model)) {
            Main.noteUnverifiedHeader(model, m.headerVerified());
            Server server;
            try {
                server = Server.start(m, new Server.Options(host, port, maxBatch, maxWaitMicros, maxQueue, limits, graceSeconds),
                        Options.batcherThread(gemmThreads));
            } catch (BindException e) {
                throw new UserException("Cannot listen on " + host + ":" + port + " (" + e.getMessage() + "): choose another --port or --host.");
            } catch (IOException e) {
                throw new UserException("Cannot start the server on " + host + ":" + port + ": " + e.getMessage());
            }
            System.out.printf(Locale.ROOT, "lstm serve: %s (%s) on http://%s:%d/ — ready%n", model.getFileName(),
                    m.weightFormat().name().toLowerCase(Locale.ROOT), host, server.port());
            System.out.flush();
            stop.await();
            System.out.println("lstm serve: stopping (up to " + graceSeconds + " s for requests in flight)");
            server.close();
            System.out.println("lstm serve: stopped");
        }
        return 0;
    }
}
