package io.fluxgate.changes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.PropertySource;
import org.springframework.core.io.ClassPathResource;

/**
 * Change-stream settings for tests that run without a Spring context: the service's own defaults
 * (from application.yaml), with the few a test changes named, such as
 * {@code StreamSettings.with("session-buffer", 4)}.
 */
public final class StreamSettings {

    private StreamSettings() {
    }

    public static ChangeStreamProperties defaults() {
        return with(Map.of());
    }

    public static ChangeStreamProperties with(String key, Object value, Object... more) {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(key, value);
        for (int i = 0; i + 1 < more.length; i += 2) {
            overrides.put((String) more[i], more[i + 1]);
        }
        return with(overrides);
    }

    /** @param overrides by their key under {@code fluxgate.changes} (kebab-case, as in application.yaml) */
    public static ChangeStreamProperties with(Map<String, Object> overrides) {
        List<PropertySource<?>> sources = new ArrayList<>();
        Map<String, Object> prefixed = new HashMap<>();
        overrides.forEach((key, value) -> prefixed.put("fluxgate.changes." + key, value));
        sources.add(new MapPropertySource("test", prefixed));
        try {
            sources.addAll(new YamlPropertySourceLoader().load("defaults", new ClassPathResource("application.yaml")));
        } catch (IOException unreadable) {
            throw new UncheckedIOException(unreadable);
        }
        return new Binder(ConfigurationPropertySources.from(sources))
                .bind("fluxgate.changes", ChangeStreamProperties.class)
                .get();
    }
}
