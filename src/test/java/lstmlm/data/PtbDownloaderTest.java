package lstmlm.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs the downloader against a local HTTP server that serves an archive built by the test. */
class PtbDownloaderTest {
    private static final Map<String, String> CONTENT = new LinkedHashMap<>();

    static {
        CONTENT.put("ptb.train.txt", " the cat sat \n the dog sat \n");
        CONTENT.put("ptb.valid.txt", " the cat \n");
        CONTENT.put("ptb.test.txt", " the dog \n");
    }

    @TempDir
    Path tmp;

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private final ByteArrayOutputStream progressBytes = new ByteArrayOutputStream();
    private final PrintStream progress = new PrintStream(progressBytes, true, StandardCharsets.UTF_8);
    private Path target;

    @BeforeEach
    void startServer() throws IOException {
        byte[] archive = archiveOf(CONTENT);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            requests.incrementAndGet();
            boolean found = exchange.getRequestURI().getPath().equals("/simple-examples.tgz");
            byte[] body = found ? archive : "no such file".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(found ? 200 : 404, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        target = tmp.resolve("data").resolve("ptb");
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    @Test
    void downloadsVerifiesAndInstallsTheFiles() throws IOException {
        PtbDownloader downloader = downloader("/simple-examples.tgz", md5sOf(CONTENT));
        assertFalse(downloader.hasVerifiedFiles());
        assertEquals(target, downloader.ensure());
        for (Map.Entry<String, String> file : CONTENT.entrySet()) {
            assertEquals(file.getValue(), Files.readString(target.resolve(file.getKey())));
        }
        assertEquals(List.of("ptb.test.txt", "ptb.train.txt", "ptb.valid.txt"), filesIn(target), "no temp files left");
        assertEquals(1, requests.get());
        assertTrue(downloader.hasVerifiedFiles());
        List<String> lines = progressBytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, lines.size(), "one line at start, one at end: " + lines);
        // the corpus loader reads what was installed
        assertEquals(List.of("<eos>", "sat", "the", "cat", "dog"), Corpus.load(target).vocabulary().words());
    }

    @Test
    void verifiedFilesSkipTheDownload() throws IOException {
        Files.createDirectories(target);
        for (Map.Entry<String, String> file : CONTENT.entrySet()) {
            Files.writeString(target.resolve(file.getKey()), file.getValue());
        }
        downloader("/simple-examples.tgz", md5sOf(CONTENT)).ensure();
        assertEquals(0, requests.get());
        assertEquals("", progressBytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void corruptLocalFileIsReplaced() throws IOException {
        Files.createDirectories(target);
        for (Map.Entry<String, String> file : CONTENT.entrySet()) {
            Files.writeString(target.resolve(file.getKey()), file.getValue());
        }
        Files.writeString(target.resolve("ptb.valid.txt"), "truncated");
        downloader("/simple-examples.tgz", md5sOf(CONTENT)).ensure();
        assertEquals(1, requests.get());
        assertEquals(CONTENT.get("ptb.valid.txt"), Files.readString(target.resolve("ptb.valid.txt")));
        assertTrue(progressBytes.toString(StandardCharsets.UTF_8).contains("unverified: ptb.valid.txt"));
    }

    @Test
    void checksumMismatchWritesNothing() throws IOException {
        Map<String, String> expected = md5sOf(CONTENT);
        String wrong = "0123456789abcdef0123456789abcdef";
        expected.put("ptb.test.txt", wrong);
        PtbDownloader downloader = downloader("/simple-examples.tgz", expected);
        DataException e = assertThrows(DataException.class, downloader::ensure);
        String message = e.getMessage();
        assertTrue(message.contains("ptb.test.txt"), message);
        assertTrue(message.contains("expected MD5 " + wrong), message);
        assertTrue(message.contains("got " + md5sOf(CONTENT).get("ptb.test.txt")), message);
        assertTrue(!Files.exists(target) || filesIn(target).isEmpty(), "target must stay empty");
    }

    @Test
    void checksumMismatchLeavesExistingFolderContentAlone() throws IOException {
        Files.createDirectories(target);
        Files.writeString(target.resolve("notes.txt"), "mine");
        Map<String, String> expected = md5sOf(CONTENT);
        expected.put("ptb.train.txt", "0123456789abcdef0123456789abcdef");
        assertThrows(DataException.class, downloader("/simple-examples.tgz", expected)::ensure);
        assertEquals(List.of("notes.txt"), filesIn(target));
    }

    @Test
    void notFoundSaysWhereToPutTheFiles() {
        PtbDownloader downloader = downloader("/moved-away.tgz", md5sOf(CONTENT));
        DataException e = assertThrows(DataException.class, downloader::ensure);
        assertManualInstructions(e.getMessage());
        assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
        assertTrue(e.getMessage().contains("/moved-away.tgz"), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void unreachableServerSaysWhereToPutTheFiles() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        URI url = URI.create("http://127.0.0.1:" + closedPort + "/simple-examples.tgz");
        PtbDownloader downloader = new PtbDownloader(url, target, md5sOf(CONTENT), progress);
        DataException e = assertThrows(DataException.class, downloader::ensure);
        assertTrue(e.getMessage().startsWith("Downloading the PTB data failed"), e.getMessage());
        assertTrue(e.getMessage().contains(url.toString()), e.getMessage());
        assertManualInstructions(e.getMessage());
    }

    @Test
    void archiveWithoutTheFilesIsAnError() {
        server.createContext("/other.tgz", exchange -> {
            byte[] body = new TinyTar().file("simple-examples/data/ptb.char.train.txt", "a b").tgz();
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        DataException e = assertThrows(DataException.class, downloader("/other.tgz", md5sOf(CONTENT))::ensure);
        assertTrue(e.getMessage().contains("no entry ending in data/ptb.train.txt"), e.getMessage());
    }

    @Test
    void responseThatIsNotGzipIsAnError() {
        server.createContext("/page.tgz", exchange -> {
            byte[] body = "<html>moved</html>".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        DataException e = assertThrows(DataException.class, downloader("/page.tgz", md5sOf(CONTENT))::ensure);
        assertTrue(e.getMessage().contains("not a readable simple-examples.tgz"), e.getMessage());
    }

    @Test
    void urlComesFromPropertyThenDefault() {
        String before = System.getProperty(PtbDownloader.URL_PROPERTY);
        try {
            System.setProperty(PtbDownloader.URL_PROPERTY, "https://mirror.example/ptb.tgz");
            assertEquals(URI.create("https://mirror.example/ptb.tgz"), PtbDownloader.defaultUrl());
            System.clearProperty(PtbDownloader.URL_PROPERTY);
            if (System.getenv(PtbDownloader.URL_ENV) == null) {
                assertEquals(URI.create(PtbDownloader.DEFAULT_URL), PtbDownloader.defaultUrl());
            }
        } finally {
            if (before == null) {
                System.clearProperty(PtbDownloader.URL_PROPERTY);
            } else {
                System.setProperty(PtbDownloader.URL_PROPERTY, before);
            }
        }
    }

    @Test
    void rejectsNonHttpUrls() {
        URI ftp = URI.create("ftp://example.org/simple-examples.tgz");
        assertThrows(DataException.class, () -> new PtbDownloader(ftp, target, md5sOf(CONTENT), progress));
    }

    @Test
    void productionChecksumsMatchDataMd5sums() {
        assertEquals(List.of("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
                List.copyOf(PtbDownloader.PTB_MD5.keySet()));
        assertEquals("f26c4b92c5fdc7b3f8c7cdcb991d8420", PtbDownloader.PTB_MD5.get("ptb.train.txt"));
        assertEquals("aa0affc06ff7c36e977d7cd49e3839bf", PtbDownloader.PTB_MD5.get("ptb.valid.txt"));
        assertEquals("8b80168b89c18661a38ef683c0dc3721", PtbDownloader.PTB_MD5.get("ptb.test.txt"));
    }

    private void assertManualInstructions(String message) {
        assertTrue(message.contains(target.toAbsolutePath().toString()), message);
        assertTrue(message.contains("ptb.train.txt, ptb.valid.txt, ptb.test.txt"), message);
        assertTrue(message.contains("--data-path"), message);
    }

    private PtbDownloader downloader(String path, Map<String, String> expectedMd5) {
        URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
        return new PtbDownloader(url, target, expectedMd5, progress);
    }

    /** Shaped like the real simple-examples.tgz: other files around, the PTB files under data/. */
    private static byte[] archiveOf(Map<String, String> files) {
        TinyTar tar = new TinyTar().directory("./simple-examples").directory("./simple-examples/data")
                .file("./simple-examples/data/ptb.char.train.txt", "t h e")
                .file("./simple-examples/README", "readme");
        files.forEach((name, content) -> tar.file("./simple-examples/data/" + name, content));
        return tar.tgz();
    }

    private static Map<String, String> md5sOf(Map<String, String> files) {
        Map<String, String> md5s = new LinkedHashMap<>();
        files.forEach((name, content) -> {
            try {
                MessageDigest digest = MessageDigest.getInstance("MD5");
                md5s.put(name, HexFormat.of().formatHex(digest.digest(content.getBytes(StandardCharsets.UTF_8))));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new AssertionError(e);
            }
        });
        return md5s;
    }

    private static List<String> filesIn(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
