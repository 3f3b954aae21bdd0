package io.fluxgate.support;

import java.util.HashMap;
import java.util.Map;

import io.fluxgate.FluxgateApplication;
import io.r2dbc.spi.ConnectionFactoryOptions;

import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;

/** Further instances of the application on a test's own databases, as extra replicas would be. */
public final class Instances {

    private Instances() {
    }

    /** Starts another application on the same PostgreSQL, MongoDB and Redis key space as the test's. */
    public static ConfigurableApplicationContext start(Environment environment, ConnectionFactoryOptions postgres,
            Map<String, Object> extra) {
        Map<String, Object> properties = new HashMap<>();
        properties.put("server.port", 0);
        properties.put("fluxgate.db.host", String.valueOf(postgres.getValue(ConnectionFactoryOptions.HOST)));
        properties.put("fluxgate.db.port", String.valueOf(postgres.getValue(ConnectionFactoryOptions.PORT)));
        properties.put("fluxgate.db.name", String.valueOf(postgres.getValue(ConnectionFactoryOptions.DATABASE)));
        properties.put("fluxgate.db.username", String.valueOf(postgres.getValue(ConnectionFactoryOptions.USER)));
        Object password = postgres.getValue(ConnectionFactoryOptions.PASSWORD);
        properties.put("fluxgate.db.password", password == null ? "" : password.toString());
        for (String shared : new String[] {"fluxgate.cache.key-prefix", "spring.mongodb.uri"}) {
            String value = environment.getProperty(shared);
            if (value != null) {
                properties.put(shared, value);
            }
        }
        properties.putAll(extra);
        // As command-line arguments: they outrank application.yaml, as they would in production.
        String[] args = properties.entrySet().stream().map(entry -> "--" + entry.getKey() + "=" + entry.getValue())
                .toArray(String[]::new);
        return new SpringApplicationBuilder(FluxgateApplication.class).profiles("test").run(args);
    }

    public static int portOf(ConfigurableApplicationContext context) {
        return ((WebServerApplicationContext) context).getWebServer().getPort();
    }
}
