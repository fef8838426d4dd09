package lstmlm.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import lstmlm.infer.Model;
import lstmlm.infer.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every {@code curl} line of docs/serving.md, sent to a test server: each answers 200 with what the doc shows. */
class ServingDocsTest {
    @TempDir
    Path dir;

    @Test
    void everyCurlExampleAnswers200() throws Exception {
        String doc = Files.readString(Path.of("docs/serving.md"));
        Matcher m = Pattern.compile("^\\s*curl -sN? localhost:8080(/\\S*)(?: -d '([^']*)')?\\s*$", Pattern.MULTILINE).matcher(doc);
        ObjectMapper json = new ObjectMapper();
        HttpClient client = HttpClient.newHttpClient();
        int examples = 0;
        // the doc's words: a vocabulary that has them, so no example leans on <unk>
        List<String> words = List.of("<unk>", "<eos>", "the", "stock", "fell", "prices", "rose", "sharply", "market");
        try (Model model = Model.load(TestModels.writeWords(dir, words, 12, 2, 3, 0.7f));
             Server server = Server.start(model, new Server.Options("127.0.0.1", 0, 8, 100, 16, Limits.DEFAULT, 2))) {
            while (m.find()) {
                String path = m.group(1), body = m.group(2);
                HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
                r = body == null ? r.GET() : r.POST(HttpRequest.BodyPublishers.ofString(body));
                HttpResponse<String> response = client.send(r.build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, response.statusCode(), m.group() + " -> " + response.body());
                if (path.equals("/metrics")) {
                    assertTrue(response.body().contains("lstm_requests_total"), response.body());
                } else if (body != null && body.contains("\"stream\": true")) {
                    assertTrue(response.body().startsWith("data: {\"word\":"), response.body());
                } else {
                    assertTrue(json.readTree(response.body()).isObject(), response.body());
                    if (path.equals("/v1/next")) assertEquals(0, json.readTree(response.body()).get("unknown").asInt());
                }
                examples++;
            }
        }
        assertTrue(examples >= 8, "found only " + examples + " curl examples in docs/serving.md");
    }
}
