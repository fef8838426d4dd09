package lstmlm.infer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Beam search over a {@link StepBatch} (or the sessions of a {@link DynamicBatcher}): the
 * {@code width} best continuations of a prompt, all hypotheses advanced together, one word each per
 * batched step. Each step every live hypothesis
 * offers its width + 1 most likely next words; the best width of all offers that do not end the
 * text survive ({@link StepBatch#select} forks and drops rows), and an offer of {@code <eos>}
 * among them ends its hypothesis when {@link Options#endAtEos}. Search stops when width hypotheses
 * have ended or after {@link Options#maxWords} words. Ties go to the earlier row, then the lower id,
 * so width 1 is greedy decoding token for token. One thread at a time; reusable.
 */
public final class BeamSearch {
    /**
     * @param maxWords         words to generate at most (the ending {@code <eos>} included)
     * @param endAtEos         {@code <eos>} ends a hypothesis (else it is a word like any other)
     * @param lengthNormalized rank by log-probability per generated word instead of the sum
     */
    public record Options(int maxWords, boolean endAtEos, boolean lengthNormalized) {
        public Options {
            if (maxWords < 1) throw new IllegalArgumentException("maxWords must be >= 1, got " + maxWords);
        }
    }

    /** A continuation: its words (ids, after the prompt), their summed log-probability, and whether {@code <eos>} ended it. */
    public record Hypothesis(int[] ids, double logProbability, boolean ended) {
        /** The ranking score: the sum, or the sum per word when length-normalised. */
        public double score(boolean lengthNormalized) {
            return lengthNormalized && ids.length > 0 ? logProbability / ids.length : logProbability;
        }
    }

    /**
     * Where the hypotheses live and step: the rows of a {@link StepBatch}, or sessions of a
     * {@link DynamicBatcher} (so a server's beams share batched steps with its other requests).
     */
    private interface Hypotheses {
        void start(int[] prompt);

        /** Row i becomes old row from[i], for i in [0, n). */
        void select(int[] from, int n);

        /** Feeds ids[r] to rows [0, n). */
        void step(int[] ids, int n);

        TopK topK(int row, TopK into);

        float logProbability(int row, int id);
    }

    private record BatchRows(StepBatch batch) implements Hypotheses {
        @Override
        public void start(int[] prompt) {
            batch.start(1);
            int[] one = new int[1];
            for (int id : prompt) {
                one[0] = id;
                batch.step(one);
            }
        }

        @Override
        public void select(int[] from, int n) {
            batch.select(from, n);
        }

        @Override
        public void step(int[] ids, int n) {
            batch.step(ids);
        }

        @Override
        public TopK topK(int row, TopK into) {
            return batch.topK(row, into);
        }

        @Override
        public float logProbability(int row, int id) {
            return batch.logProbability(row, id);
        }
    }

    /** One batcher session per hypothesis (and as many spares for selections); a step feeds them all at once, a virtual thread each. */
    private static final class BatcherSessions implements Hypotheses {
        private Session[] live, spare;
        private final java.util.concurrent.ExecutorService feeders = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        private final java.util.List<java.util.concurrent.Future<?>> pending = new ArrayList<>();

        BatcherSessions(DynamicBatcher batcher, int width) {
            live = new Session[width];
            spare = new Session[width];
            for (int i = 0; i < width; i++) {
                live[i] = batcher.newSession();
                spare[i] = batcher.newSession();
            }
        }

        @Override
        public void start(int[] prompt) {
            live[0].reset();
            for (int id : prompt) live[0].feed(id);
        }

        @Override
        public void select(int[] from, int n) {
            for (int i = 0; i < n; i++) spare[i].copyStateFrom(live[from[i]]);
            Session[] t = live;
            live = spare;
            spare = t;
        }

        @Override
        public void step(int[] ids, int n) {
            pending.clear();
            for (int r = 0; r < n; r++) {
                Session s = live[r];
                int id = ids[r];
                pending.add(feeders.submit(() -> s.feed(id)));
            }
            for (var f : pending) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted during a beam step", e);
                }
            }
        }

        @Override
        public TopK topK(int row, TopK into) {
            return live[row].topK(into);
        }

        @Override
        public float logProbability(int row, int id) {
            return live[row].logProbability(id);
        }

        void close() {
            feeders.close();
            for (Session s : live) s.close();
            for (Session s : spare) s.close();
        }
    }

    private final Model model;
    private final Hypotheses hypotheses;
    private final int width;
    private final TopK offers;
    // per live row: words so far and the summed log-probability; the next step's in the spare arrays
    private int[][] words, nextWords;
    private double[] scores, nextScores;
    private final int[] from, fed;
    // the step's offers: row, id, score, in one flat array each
    private final int[] offerRow, offerId;
    private final double[] offerScore;
    private final Integer[] order;

    public BeamSearch(Model model, int width) {
        this(model, width, new BatchRows(model.newStepBatch(checkWidth(width))));
    }

    /**
     * A beam whose hypotheses are sessions of {@code batcher}: each step of the beam is one feed per
     * hypothesis, all at once, so they share the batcher's steps with its other streams. The same
     * search as on a {@link StepBatch}; rows stepped together by the batcher equal sessions stepped
     * alone to float rounding. Holds 2 × width sessions until {@link #search} returns.
     */
    public static List<Hypothesis> search(DynamicBatcher batcher, int width, int[] prompt, Options options) {
        BatcherSessions sessions = new BatcherSessions(batcher, checkWidth(width));
        try {
            return new BeamSearch(batcher.model(), width, sessions).search(prompt, options);
        } finally {
            sessions.close();
        }
    }

    private static int checkWidth(int width) {
        if (width < 1) throw new IllegalArgumentException("beam width must be >= 1, got " + width);
        return width;
    }

    private BeamSearch(Model model, int width, Hypotheses hypotheses) {
        this.model = model;
        this.width = width;
        this.hypotheses = hypotheses;
        this.offers = new TopK(width + 1);
        this.scores = new double[width];
        this.nextScores = new double[width];
        this.words = new int[width][];
        this.nextWords = new int[width][];
        this.from = new int[width];
        this.fed = new int[width];
        int n = width * (width + 1);
        this.offerRow = new int[n];
        this.offerId = new int[n];
        this.offerScore = new double[n];
        this.order = new Integer[n];
    }

    /**
     * The best continuations of {@code prompt} (ids fed in order from the zero state; start it with
     * {@code <eos>} for a sentence start), best first: those ended by {@code <eos>} and, if the word
     * limit came first, the live ones, at most width of each.
     */
    public List<Hypothesis> search(int[] prompt, Options options) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty: start it with <eos> for a sentence start");
        int eos = options.endAtEos() ? model.eosIdOrThrow() : -1;
        hypotheses.start(prompt);
        int live = 1;
        scores[0] = 0;
        words[0] = new int[0];
        List<Hypothesis> ended = new ArrayList<>();
        for (int len = 1; len <= options.maxWords() && live > 0 && ended.size() < width; len++) {
            int n = 0;
            for (int r = 0; r < live; r++) {
                hypotheses.topK(r, offers);
                for (int i = 0; i < offers.size(); i++) {
                    offerRow[n] = r;
                    offerId[n] = offers.id(i);
                    offerScore[n] = scores[r] + hypotheses.logProbability(r, offers.id(i));
                    order[n] = n;
                    n++;
                }
            }
            // best first; offers were made in (row, rank) order, which breaks ties
            Arrays.sort(order, 0, n, Comparator.comparingDouble((Integer i) -> -offerScore[i]).thenComparingInt(i -> i));
            int survivors = 0;
            for (int k = 0; k < n && survivors < width; k++) {
                int o = order[k];
                int[] ws = Arrays.copyOf(words[offerRow[o]], len);
                ws[len - 1] = offerId[o];
                if (offerId[o] == eos) {
                    ended.add(new Hypothesis(ws, offerScore[o], true));
                } else {
                    from[survivors] = offerRow[o];
                    fed[survivors] = offerId[o];
                    nextWords[survivors] = ws;
                    nextScores[survivors] = offerScore[o];
                    survivors++;
                }
            }
            int[][] w = words;
            words = nextWords;
            nextWords = w;
            double[] s = scores;
            scores = nextScores;
            nextScores = s;
            live = survivors;
            if (live > 0 && len < options.maxWords() && ended.size() < width) {
                hypotheses.select(from, live);
                hypotheses.step(fed, live);
            }
        }
        List<Hypothesis> result = new ArrayList<>(ended);
        if (ended.size() < width) {
            for (int r = 0; r < live; r++) result.add(new Hypothesis(words[r], scores[r], false));
        }
        result.sort(Comparator.comparingDouble((Hypothesis h) -> -h.score(options.lengthNormalized())));
        return result.size() > width ? List.copyOf(result.subList(0, width)) : result;
    }
}
