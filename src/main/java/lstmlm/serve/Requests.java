package lstmlm.serve;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decodes request bodies: strict JSON (UTF-8, one object, no unknown fields, no duplicate keys, the
 * exact JSON type for each field) into checked requests, or a {@link BadRequest} with one line that
 * names the field and what it must be. A pure function of the bytes: the request fuzzer drives it.
 */
public final class Requests {
    private Requests() {}

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** POST /v1/score: sentences (words separated by spaces) and whether to list each token's log-probability. */
    public record Score(List<List<String>> sentences, boolean perToken) {}

    /** POST /v1/next: the words so far (a sentence start when empty) and how many next words to list. */
    public record Next(List<String> context, int k) {}

    /**
     * POST /v1/generate: words after the prompt, sampled (temperature, top-k, seed) or, with
     * beam > 0, the most likely sentence; {@code stream}: one server-sent event per word.
     */
    public record Generate(List<String> prompt, int words, float temperature, int topK, long seed, int beam, boolean stream) {}

    public static Score score(byte[] body, Limits limits) {
        JsonNode o = object(body, limits, Set.of("sentences", "per_token"));
        JsonNode s = o.get("sentences");
        if (s == null) throw bad("'sentences' is required: a list of strings, one sentence each");
        if (!s.isArray()) throw bad("'sentences' must be a list of strings");
        if (s.isEmpty()) throw bad("'sentences' is empty: give at least one sentence");
        if (s.size() > limits.maxSentences()) {
            throw bad("'sentences' has " + s.size() + " sentences; the limit is " + limits.maxSentences() + " per request");
        }
        List<List<String>> sentences = new ArrayList<>(s.size());
        for (int i = 0; i < s.size(); i++) {
            List<String> words = words(s.get(i), "sentences[" + i + "]", limits);
            if (words.isEmpty()) throw bad("'sentences[" + i + "]' has no words");
            sentences.add(words);
        }
        return new Score(List.copyOf(sentences), bool(o, "per_token", false));
    }

    public static Next next(byte[] body, Limits limits) {
        JsonNode o = object(body, limits, Set.of("context", "k"));
        JsonNode c = o.get("context");
        List<String> context = c == null ? List.of() : words(c, "context", limits);
        int k = integer(o, "k", 10, 1, limits.maxTopK());
        return new Next(context, k);
    }

    public static Generate generate(byte[] body, Limits limits) {
        JsonNode o = object(body, limits, Set.of("prompt", "words", "temperature", "top_k", "seed", "beam", "stream"));
        JsonNode p = o.get("prompt");
        List<String> prompt = p == null ? List.of() : words(p, "prompt", limits);
        int words = integer(o, "words", 20, 1, limits.maxGenerateWords());
        double temperature = number(o, "temperature", 1.0, 0, 100);
        int topK = integer(o, "top_k", 0, 0, limits.maxTopK());
        long seed = o.has("seed") ? longInteger(o.get("seed"), "seed") : 1;
        int beam = integer(o, "beam", 0, 0, limits.maxBeam());
        boolean stream = bool(o, "stream", false);
        if (beam > 0 && stream) throw bad("'stream' and 'beam' do not go together: a beam knows its words only at the end");
        return new Generate(prompt, words, (float) temperature, topK, seed, beam, stream);
    }

    /** The body as one JSON object with only {@code allowed} fields. */
    private static JsonNode object(byte[] body, Limits limits, Set<String> allowed) {
        if (body.length > limits.maxBodyBytes()) {
            throw new BadRequest(413, "The body has " + body.length + " bytes; the limit is " + limits.maxBodyBytes());
        }
        if (body.length == 0) throw bad("The body is empty: send a JSON object");
        JsonNode o;
        try {
            o = JSON.readTree(body);
        } catch (JacksonException e) {
            throw bad("The body is not valid JSON: " + oneLine(e.getOriginalMessage()));
        } catch (java.io.IOException e) { // reading a byte array: only the parser's own complaints come here
            throw bad("The body is not valid JSON: " + oneLine(e.getMessage()));
        }
        if (o == null || !o.isObject()) throw bad("The body must be a JSON object");
        for (Iterator<Map.Entry<String, JsonNode>> it = o.properties().iterator(); it.hasNext(); ) {
            String field = it.next().getKey();
            if (!allowed.contains(field)) {
                throw bad("Unknown field '" + clip(field) + "'; the fields are " + String.join(", ", allowed.stream().sorted().toList()));
            }
        }
        return o;
    }

    /** A string of words separated by white space ({@link Character#isWhitespace}, as {@link String#strip}). */
    private static List<String> words(JsonNode n, String field, Limits limits) {
        if (!n.isTextual()) throw bad("'" + field + "' must be a string of words separated by spaces");
        String text = n.textValue();
        List<String> words = new ArrayList<>();
        int start = -1;
        for (int i = 0; i <= text.length(); i++) {
            boolean space = i == text.length() || Character.isWhitespace(text.charAt(i));
            if (space && start >= 0) {
                if (words.size() == limits.maxWords()) {
                    throw bad("'" + field + "' has more than " + limits.maxWords() + " words; the limit is " + limits.maxWords());
                }
                words.add(text.substring(start, i));
                start = -1;
            } else if (!space && start < 0) {
                start = i;
            }
        }
        return List.copyOf(words);
    }

    private static boolean bool(JsonNode o, String field, boolean byDefault) {
        JsonNode n = o.get(field);
        if (n == null) return byDefault;
        if (!n.isBoolean()) throw bad("'" + field + "' must be true or false");
        return n.booleanValue();
    }

    private static int integer(JsonNode o, String field, int byDefault, int min, int max) {
        JsonNode n = o.get(field);
        if (n == null) return byDefault;
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < min || n.intValue() > max) {
            throw bad("'" + field + "' must be a whole number from " + min + " to " + max);
        }
        return n.intValue();
    }

    private static long longInteger(JsonNode n, String field) {
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw bad("'" + field + "' must be a whole number that fits 64 bits");
        return n.longValue();
    }

    private static double number(JsonNode o, String field, double byDefault, double min, double max) {
        JsonNode n = o.get(field);
        if (n == null) return byDefault;
        if (!n.isNumber() || !(n.doubleValue() >= min && n.doubleValue() <= max)) {
            throw bad("'" + field + "' must be a number from " + min + " to " + max);
        }
        return n.doubleValue();
    }

    private static BadRequest bad(String message) {
        return new BadRequest(400, message);
    }

    /** At most 80 characters of an outside string, for a message. */
    private static String clip(String s) {
        String t = s.replaceAll("\\p{Cntrl}", "?");
        return t.length() <= 80 ? t : t.substring(0, 77) + "...";
    }

    private static String oneLine(String message) {
        if (message == null) return "unreadable";
        return clip(message.lines().findFirst().orElse("unreadable"));
    }
}
