package lstmlm.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import lstmlm.serve.BadRequest;
import lstmlm.serve.Limits;
import lstmlm.serve.Requests;

import java.util.List;

/**
 * Request bodies from outside: any bytes given to the server's decoders are a request within the
 * limits, or a {@link BadRequest} (400 or 413) with one short line; never another exception. The
 * first byte picks the endpoint, the rest is the body.
 */
class RequestFuzzTest {
    private static final Limits LIMITS = new Limits(4096, 8, 40, 50, 20, 4);

    @FuzzTest(maxDuration = "10s")
    void requestBodies(byte[] bytes) {
        if (bytes.length == 0) return;
        byte[] body = java.util.Arrays.copyOfRange(bytes, 1, bytes.length);
        try {
            switch (Math.floorMod(bytes[0], 3)) {
                case 0 -> {
                    Requests.Score s = Requests.score(body, LIMITS);
                    check(!s.sentences().isEmpty() && s.sentences().size() <= LIMITS.maxSentences(), "sentences " + s);
                    for (List<String> words : s.sentences()) words(words, false);
                }
                case 1 -> {
                    Requests.Next n = Requests.next(body, LIMITS);
                    words(n.context(), true);
                    check(n.k() >= 1 && n.k() <= LIMITS.maxTopK(), "k " + n.k());
                }
                default -> {
                    Requests.Generate g = Requests.generate(body, LIMITS);
                    words(g.prompt(), true);
                    check(g.words() >= 1 && g.words() <= LIMITS.maxGenerateWords(), "words " + g.words());
                    check(g.temperature() >= 0 && Float.isFinite(g.temperature()), "temperature " + g.temperature());
                    check(g.topK() >= 0 && g.topK() <= LIMITS.maxTopK() && g.beam() >= 0 && g.beam() <= LIMITS.maxBeam(), "top-k/beam " + g);
                    check(!(g.beam() > 0 && g.stream()), "beam and stream " + g);
                }
            }
        } catch (BadRequest e) {
            check(e.status() == 400 || e.status() == 413, "status " + e.status());
            String m = e.getMessage();
            check(m != null && !m.isEmpty() && m.length() <= 300 && m.lines().count() == 1, "message: " + m);
        }
    }

    private static void words(List<String> words, boolean mayBeEmpty) {
        check(mayBeEmpty || !words.isEmpty(), "no words");
        check(words.size() <= LIMITS.maxWords(), words.size() + " words");
        for (String w : words) check(!w.isEmpty() && w.strip().equals(w) && w.split("\\s+").length == 1, "word '" + w + "'");
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }
}
