package io.fluxgate.web;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityScheme;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI document's header and its bearer-token scheme. The operations come from the routes
 * themselves ({@link ApiDocs}); springdoc serves the document at /v3/api-docs and Swagger UI at
 * /swagger-ui.html.
 */
@Configuration(proxyBeanMethods = false)
class ApiDocsConfiguration {

    @Bean
    OpenAPI fluxgateOpenApi() {
        return new OpenAPI()
                .info(new Info().title("Fluxgate API").version("1")
                        .description("REST endpoints over PostgreSQL, MongoDB and Redis, and the change stream's "
                                + "Server-Sent Events. The WebSocket protocol at /ws/changes is described in the README. "
                                + "Errors are application/problem+json (RFC 9457)."))
                .components(new Components().addSecuritySchemes(ApiDocs.BEARER, new SecurityScheme()
                        .type(SecurityScheme.Type.HTTP).scheme("bearer").bearerFormat("JWT")
                        .description("POST /api/auth/login answers the token")));
    }
}
