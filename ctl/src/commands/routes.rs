//! `ctl routes …`: the RouteService calls.

use clap::Subcommand;
use proto::grpc::v1 as api;

use super::{Context, PAGE_SIZE, all_pages};
use crate::client::Connection;
use crate::exit_code;
use crate::output;
use crate::views;

#[derive(Subcommand)]
pub enum Command {
    /// List every route (all pages).
    #[command(after_help = exit_code::HELP)]
    List,
    /// Send packets for addresses under PREFIX to PEER_ID; prints the created route.
    #[command(after_help = exit_code::HELP)]
    Add {
        /// ILP address prefix, matched on whole segments (g.acme never catches g.acme2).
        prefix: String,
        /// The peer packets go to.
        peer_id: String,
        /// Validate only: the server checks everything and changes nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete the route for PREFIX.
    #[command(after_help = exit_code::HELP)]
    Remove {
        /// The route's prefix, exactly as listed.
        prefix: String,
        /// Validate only: the server checks everything and changes nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show where a packet for ADDRESS would go.
    ///
    /// Prints the longest matching prefix, the next hop, where the route came from, and the
    /// state of the link to that peer; "no route" if no prefix matches (still exit 0).
    #[command(after_help = exit_code::HELP)]
    Explain {
        /// A full ILP address, e.g. g.acme.west.alice.
        address: String,
    },
}

pub async fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let connection = &context.connection;
    let format = context.format;
    match command {
        Command::List => {
            let routes: Vec<views::Route> = list_all(connection)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            context.print(&output::list(format, &routes)?)?;
        }
        Command::Add {
            prefix,
            peer_id,
            dry_run,
        } => {
            let request = connection.request(api::CreateRouteRequest {
                route: Some(api::Route {
                    prefix,
                    peer_id,
                    ..Default::default()
                }),
                validate_only: dry_run,
            });
            let route = connection
                .call(connection.routes().create_route(request))
                .await?;
            context.print(&output::one(format, &views::Route::from(route))?)?;
            context.dry_run_note(dry_run);
        }
        Command::Remove { prefix, dry_run } => {
            let request = connection.request(api::DeleteRouteRequest {
                prefix: prefix.clone(),
                validate_only: dry_run,
            });
            connection
                .call(connection.routes().delete_route(request))
                .await?;
            context.print(&output::one(format, &views::RemovedRoute { prefix })?)?;
            context.dry_run_note(dry_run);
        }
        Command::Explain { address } => {
            let request = connection.request(api::ExplainRouteRequest {
                address: address.clone(),
            });
            let answer = connection
                .call(connection.routes().explain_route(request))
                .await?;
            let explanation = views::RouteExplanation::new(address, answer);
            context.print(&output::show(format, &explanation)?)?;
        }
    }
    Ok(())
}

/// Every route, following `next_page_token` to the end.
pub async fn list_all(connection: &Connection) -> anyhow::Result<Vec<api::Route>> {
    let client = connection.routes();
    all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let request = connection.request(api::ListRoutesRequest {
                page_size: PAGE_SIZE,
                page_token,
            });
            let page = connection.call(client.list_routes(request)).await?;
            Ok((page.routes, page.next_page_token))
        }
    })
    .await
}
