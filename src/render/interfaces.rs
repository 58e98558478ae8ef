//! `racecap interfaces` as a table (the JSON form is the serde model).

use racecap::source::interfaces::Interface;

/// The interfaces with their index, state, veth peer and addresses.
pub fn table(list: &[Interface]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_header([
            "index",
            "name",
            "state",
            "peer index",
            "peer netns",
            "addresses",
        ]);
    for i in list {
        t.add_row(vec![
            i.index.to_string(),
            i.name.clone(),
            i.state.clone(),
            i.peer_index.map_or("-".into(), |p| p.to_string()),
            i.peer_netns.clone().unwrap_or_else(|| "-".into()),
            i.addresses.join(" "),
        ]);
    }
    t.to_string()
}
