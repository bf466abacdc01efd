//! One test module per generated API module, each over real HTTP (wiremock on loopback)
//! through the `highlevel` facade: method, path, query encoding, the operation's `Version`,
//! `Authorization`, and lenient decoding of a realistic body (an enum value the spec does not
//! list, a field it does not declare, a declared field missing).

mod ad_manager;
mod affiliate_manager;
mod agent_studio;
mod associations;
mod blogs;
mod brand_boards;
mod businesses;
mod calendars;
mod campaigns;
mod companies;
mod contacts;
mod conversation_ai;
mod conversations;
mod courses;
mod custom_fields;
mod custom_menus;
mod email_isv;
mod emails;
mod forms;
mod funnels;
mod invoices;
mod knowledge_base;
mod links;
mod locations;
mod marketplace;
mod medias;
mod oauth;
mod objects;
mod opportunities;
mod payments;
mod phone_system;
mod products;
mod proposals;
mod saas_api;
mod snapshots;
mod social_media_posting;
mod store;
mod surveys;
mod users;
mod v3;
mod voice_ai;
mod workflows;
