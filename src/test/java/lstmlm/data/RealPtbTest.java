package lstmlm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checks against the real Penn Treebank; runs only when PTB_DIR points at a folder with the three files. */
class RealPtbTest {
    private static Corpus corpus;
    private static Path dir;

    @BeforeAll
    static void load() {
        String ptbDir = System.getenv("PTB_DIR");
        assumeTrue(ptbDir != null && !ptbDir.isBlank(), "PTB_DIR not set");
        dir = Path.of(ptbDir);
        corpus = Corpus.load(dir);
    }

    @Test
    void vocabularyMatchesReaderPy() {
        Vocabulary vocab = corpus.vocabulary();
        assertEquals(10000, vocab.size());
        // the most frequent words, as in TensorFlow's word_to_id
        assertEquals(0, vocab.id("the"));
        assertEquals(1, vocab.unkId());
        assertEquals(2, vocab.eosId());
        assertEquals(3, vocab.id("N"));
    }

    @Test
    void tokenCountsMatchReaderPy() {
        assertEquals(929589, corpus.train().length);
        assertEquals(73760, corpus.valid().length);
        assertEquals(82430, corpus.test().length);
    }

    @Test
    void trainStartsLikeReaderPy() {
        // ptb.train.txt opens with " aer banknote berlitz ...": rare words, so ids near the end of the vocabulary
        assertArrayEquals(new int[] {9970, 9971, 9972, 9974, 9975, 9976, 9980, 9981, 9982, 9983},
                Arrays.copyOf(corpus.train(), 10));
    }

    @Test
    void everySplitEndsWithEos() {
        int eos = corpus.vocabulary().eosId();
        assertEquals(eos, corpus.train()[corpus.train().length - 1]);
        assertEquals(eos, corpus.valid()[corpus.valid().length - 1]);
        assertEquals(eos, corpus.test()[corpus.test().length - 1]);
    }

    @Test
    void tutorialSmallConfigEpochSize() {
        // ptb_word_lm.py SmallConfig: batch_size 20, num_steps 20 → 2323 training windows per epoch
        assertEquals(2323, new BatchProducer(corpus.train(), 20, 20).epochSize());
    }

    @Test
    void downloaderAcceptsTheRealFiles() {
        PtbDownloader downloader = new PtbDownloader(URI.create(PtbDownloader.DEFAULT_URL), dir,
                PtbDownloader.PTB_MD5, System.out);
        assertTrue(downloader.hasVerifiedFiles());
    }

    /** The real files packed by GNU tar the way simple-examples.tgz is, served locally, installed with PTB_MD5. */
    @Test
    void downloaderInstallsTheRealFilesFromATarCommandArchive(@TempDir Path tmp) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("src/simple-examples/data"));
        for (String name : lstmlm.data.CorpusFiles.LAYOUTS.getFirst()) {
            Files.copy(dir.resolve(name), data.resolve(name));
        }
        Path archive = tmp.resolve("simple-examples.tgz");
        Process tar = new ProcessBuilder("tar", "-czf", archive.toString(), "-C", tmp.resolve("src").toString(),
                "./simple-examples").redirectErrorStream(true).start();
        tar.getInputStream().readAllBytes();
        assumeTrue(tar.waitFor() == 0, "needs the tar command");

        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/simple-examples.tgz", exchange -> {
            exchange.sendResponseHeaders(200, Files.size(archive));
            try (OutputStream out = exchange.getResponseBody()) {
                Files.copy(archive, out);
            }
        });
        server.start();
        try {
            URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/simple-examples.tgz");
            Path target = tmp.resolve("data/ptb");
            new PtbDownloader(url, target, PtbDownloader.PTB_MD5, System.out).ensure();
            for (String name : lstmlm.data.CorpusFiles.LAYOUTS.getFirst()) {
                assertEquals(-1L, Files.mismatch(dir.resolve(name), target.resolve(name)), name);
            }
        } finally {
            server.stop(0);
        }
    }
}
