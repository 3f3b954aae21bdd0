package io.fluxgate.bench;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Set-up calls the HTTP benches share: options, sign-up and login, before the timed part starts. */
final class BenchClient {

    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newHttpClient();

    private BenchClient() {
    }

    /** {@code --name=value} arguments. */
    static Map<String, String> options(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.startsWith("--") && arg.contains("=")) {
                options.put(arg.substring(2, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
            }
        }
        return options;
    }

    /** A signed-in user. */
    record User(long id, String bearer) {
    }

    /** Registers {@code email} (ignoring "already taken") and logs in. */
    static User signIn(String base, String name, String email) throws Exception {
        String password = "bench-password-1";
        send(base + "/api/auth/register", null,
                "{\"name\":\"" + name + "\",\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
        String login = send(base + "/api/auth/login", null, "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}");
        Matcher token = Pattern.compile("\"token\"\\s*:\\s*\"([^\"]+)\"").matcher(login);
        Matcher id = Pattern.compile("\"id\"\\s*:\\s*(\\d+)").matcher(login);
        if (!token.find() || !id.find()) {
            throw new IllegalStateException("login failed: " + login);
        }
        return new User(Long.parseLong(id.group(1)), "Bearer " + token.group(1));
    }

    /** POSTs JSON (or nothing) and returns the body. */
    static String send(String url, String bearer, String json) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        if (bearer != null) {
            request.header("Authorization", bearer);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    static String get(String url, String bearer) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", bearer).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
