//! Rapport's API: REST and GraphQL over HTTP, authentication, configuration and the
//! `rapport` binary's commands.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dto;
pub mod error;
pub mod graphql;
pub mod http;
mod jobs;
pub mod logging;
pub mod openapi;
pub mod rest;
pub mod service;
pub mod webhooks;

use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App as ActixApp, HttpServer, web};
use utoipa_swagger_ui::SwaggerUi;

use crate::app::App;
use crate::http::json::BodyLimit;

/// Runs the HTTP server and the background jobs until SIGINT/SIGTERM, then drains
/// in-flight requests.
/// # Errors
/// When the address cannot be bound.
pub async fn serve(app: App, on_bound: impl FnOnce(std::net::SocketAddr)) -> std::io::Result<()> {
    let listen = app.settings.listen.clone();
    let workers = app.settings.workers;
    let shutdown = app.settings.shutdown_timeout_seconds;
    let body_limit = app.settings.max_body_bytes;
    let batch_limit = app.settings.max_batch_body_bytes;
    let origins = app.settings.cors_origins.clone();
    let schema = web::Data::new(graphql::schema(
        app.settings.graphql_max_depth,
        app.settings.graphql_max_complexity,
    ));
    let parsed = web::Data::new(graphql::ParsedQueries::new(256));
    let metrics = web::Data::new(app.metrics.clone());
    let app = web::Data::new(app);
    let mut jobs = jobs::spawn(&app);
    jobs.push(tokio::spawn(webhooks::worker::run(app.clone())));
    let server_app = app.clone();
    let mut server = HttpServer::new(move || {
        ActixApp::new()
            .app_data(server_app.clone())
            .app_data(schema.clone())
            .app_data(parsed.clone())
            .app_data(metrics.clone())
            .app_data(BodyLimit(body_limit))
            .app_data(web::PathConfig::default().error_handler(rest::path_error))
            .app_data(web::QueryConfig::default().error_handler(rest::query_error))
            .app_data(web::FormConfig::default().error_handler(rest::form_error))
            .wrap(from_fn(http::idempotency::middleware))
            .wrap(from_fn(http::query::middleware))
            .wrap(http::cors::layer(&origins))
            .wrap(from_fn(http::cors::problems))
            .wrap(from_fn(http::metrics::middleware))
            .wrap(from_fn(http::request_id::middleware))
            .configure(|cfg| rest::configure(cfg, batch_limit))
            .service(rest::ops::healthz)
            .service(rest::ops::readyz)
            .service(rest::ops::metrics)
            .service(rest::ops::openapi)
            .service(rest::ops::problem_type)
            .service(
                web::resource("/graphql")
                    .app_data(BodyLimit(body_limit))
                    .route(web::post().to(graphql::post))
                    .route(web::get().to(graphql::get))
                    .default_service(web::to(rest::not_found)),
            )
            .service(web::resource("/docs").route(web::get().to(|| async {
                actix_web::HttpResponse::PermanentRedirect()
                    .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                    .finish()
            })))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/docs/openapi.json", openapi::document()))
            .default_service(web::to(rest::not_found))
    })
    .shutdown_timeout(shutdown)
    .client_request_timeout(Duration::from_secs(30));
    if let Some(w) = workers {
        server = server.workers(w);
    }
    let server = server.bind(&listen)?;
    if let Some(addr) = server.addrs().first() {
        on_bound(*addr);
    }
    let ran = server.run().await;
    for j in jobs {
        j.abort();
    }
    ran?;
    app.db.clone().close().await;
    Ok(())
}
