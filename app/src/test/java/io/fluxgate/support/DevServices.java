package io.fluxgate.support;

import org.testcontainers.mongodb.MongoDBContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.testcontainers.service.connection.ServiceConnection;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.test.context.DynamicPropertyRegistrar;

/**
 * Services for README command 1 ({@code spring-boot:test-run}), in the same order as the tests use,
 * but with a lasting database: {@code fluxgate} (or {@code FLUXGATE_DB_NAME}) is created if missing.
 */
@TestConfiguration(proxyBeanMethods = false)
public class DevServices {

    @Bean
    @ServiceConnection
    @Conditional(TestServices.UseContainers.class)
    PostgreSQLContainer devPostgresContainer() {
        return new PostgreSQLContainer(DockerImageName.parse(TestServices.POSTGRES_IMAGE));
    }

    @Bean
    @ServiceConnection
    @Conditional(TestServices.UseMongoContainer.class)
    MongoDBContainer devMongoContainer() {
        return new MongoDBContainer(DockerImageName.parse(TestServices.MONGO_IMAGE));
    }

    /** MONGODB_URI as given, else the in-process server (its data lasts as long as the process). */
    @Bean
    @Conditional(TestServices.UseMongoServer.class)
    DynamicPropertyRegistrar devMongoServer() {
        String uri = MongoServers.explicitlyConfigured() ? System.getenv("MONGODB_URI") : MongoServers.freshDatabaseUri();
        return registry -> registry.add("spring.mongodb.uri", () -> uri);
    }

    @Bean
    @Conditional(TestServices.UseServers.class)
    DynamicPropertyRegistrar devServerPostgres() {
        LocalPostgres server = LocalPostgres.fromEnvironment();
        String database = System.getenv().getOrDefault("FLUXGATE_DB_NAME", "fluxgate");
        server.ensureDatabase(database);
        return server.propertiesFor(database);
    }
}
