package lstmlm.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import lstmlm.infer.BeamSearch;
import lstmlm.infer.DynamicBatcher;
import lstmlm.infer.Model;
import lstmlm.infer.Session;
import lstmlm.infer.SentenceScore;
import lstmlm.infer.TopK;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * What each endpoint computes, on the library: every word is fed to a session of the shared
 * {@link DynamicBatcher}, so concurrent requests share each batched step; the numbers are the
 * library's for the same input (a session's score, top-k and draws). A beam's hypotheses are
 * batcher sessions too ({@link BeamSearch#search(DynamicBatcher, int, int[], BeamSearch.Options)}).
 */
final class Service {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Model model;
    private final DynamicBatcher batcher;
    private final Metrics metrics;

    Service(Model model, DynamicBatcher batcher, Metrics metrics) {
        this.model = model;
        this.batcher = batcher;
        this.metrics = metrics;
        if (model.vocabulary().eosId() < 0) throw new IllegalArgumentException("The model's vocabulary has no <eos>: sentences have no start to serve from.");
    }

    ObjectNode score(Requests.Score r) {
        ObjectNode out = JSON.createObjectNode();
        ArrayNode results = out.putArray("results");
        double totalLogProbability = 0;
        long tokens = 0, unknown = 0;
        try (Session s = batcher.newSession()) {
            for (List<String> words : r.sentences()) {
                float[] perToken = r.perToken() ? new float[words.size() + 1] : null;
                SentenceScore sc = perToken != null ? s.score(words, perToken) : s.score(words);
                metrics.tokens(sc.tokens());
                ObjectNode o = results.addObject();
                o.put("log_prob", sc.logProbability());
                o.put("tokens", sc.tokens());
                o.put("perplexity", sc.perplexity());
                o.put("unknown", sc.unknownWords());
                if (perToken != null) {
                    ArrayNode t = o.putArray("token_log_probs");
                    for (float lp : perToken) t.add(lp);
                }
                totalLogProbability += sc.logProbability();
                tokens += sc.tokens();
                unknown += sc.unknownWords();
            }
        }
        out.put("log_prob", totalLogProbability);
        out.put("tokens", tokens);
        out.put("perplexity", Math.exp(-totalLogProbability / tokens));
        out.put("unknown", unknown);
        return out;
    }

    ObjectNode next(Requests.Next r) {
        ObjectNode out = JSON.createObjectNode();
        try (Session s = batcher.newSession()) {
            int unknown = prime(s, r.context());
            TopK top = s.topK(new TopK(r.k()));
            ArrayNode words = out.putArray("next");
            for (int i = 0; i < top.size(); i++) {
                ObjectNode w = words.addObject();
                w.put("word", top.word(i));
                w.put("probability", top.probability(i));
            }
            out.put("unknown", unknown);
        }
        return out;
    }

    /** Generates; {@code eachWord} gets every word as it is drawn (streaming), or null. */
    ObjectNode generate(Requests.Generate r, Consumer<String> eachWord) {
        ObjectNode out = JSON.createObjectNode();
        ArrayNode words = out.putArray("words");
        int unknown = 0;
        if (r.beam() > 0) {
            Model.Ids prompt = model.afterEos(r.prompt());
            int[] ids = prompt.ids();
            unknown = prompt.unknown();
            BeamSearch.Hypothesis best = BeamSearch.search(batcher, r.beam(), ids, new BeamSearch.Options(r.words(), true, true))
                    .getFirst();
            metrics.tokens(ids.length + best.ids().length * r.beam());
            for (int id : best.ids()) words.add(model.word(id));
            out.put("log_prob", best.logProbability());
        } else {
            SplittableRandom random = new SplittableRandom(r.seed());
            try (Session s = batcher.newSession()) {
                unknown = prime(s, r.prompt());
                for (int i = 0; i < r.words(); i++) {
                    int next = s.sample(r.temperature(), r.topK(), random);
                    String w = model.word(next);
                    words.add(w);
                    if (eachWord != null) eachWord.accept(w);
                    s.feed(next);
                    metrics.tokens(1);
                }
            }
        }
        out.put("unknown", unknown);
        return out;
    }

    /** Feeds {@code <eos>} and then the words (unknown ones as {@code <unk>}); returns how many were unknown. */
    private int prime(Session s, List<String> words) {
        Model.Ids ids = model.afterEos(words);
        for (int id : ids.ids()) s.feed(id);
        metrics.tokens(ids.ids().length);
        return ids.unknown();
    }
}
