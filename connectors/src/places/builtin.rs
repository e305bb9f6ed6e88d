//! Built-in place reference tables, hand-made from public facts: ONS NUTS 2018
//! and local authority district (LAD / GSS) codes, and Royal Mail postcode areas
//! and districts. Public facts / Open Government Licence v3.0 (contains public
//! sector information licensed under the OGL; contains Royal Mail data).
//!
//! This is a deliberately small, curated table so that place normalisation works
//! out of the box: every UK NUTS1 region and postcode area, and the West Midlands
//! in detail (local authorities, NUTS2/NUTS3 areas, and the postcode districts of
//! the metropolitan county). It is not a copy of the full reference files; the full
//! tables can be loaded at run time with `sebroker reference import places FILE`.
//!
//! Every table is sorted by its first element (byte order), so it can be searched
//! with `binary_search_by`. Every NUTS code used in the tables is a key of
//! [`NUTS_NAMES`].

/// A local authority: (GSS code, name, NUTS3 code (NUTS 2018)).
///
/// Every local authority in the West Midlands region (ONS region E12000005):
/// the seven metropolitan districts, the four unitary authorities, the three
/// county councils (mapped to the NUTS3 area that covers the county) and every
/// district of those counties. Names are the common short names.
pub const LOCAL_AUTHORITIES: &[(&str, &str, &str)] = &[
    ("E06000019", "Herefordshire", "UKG11"),
    ("E06000020", "Telford and Wrekin", "UKG21"),
    ("E06000021", "Stoke-on-Trent", "UKG23"),
    ("E06000051", "Shropshire", "UKG22"),
    ("E07000192", "Cannock Chase", "UKG24"),
    ("E07000193", "East Staffordshire", "UKG24"),
    ("E07000194", "Lichfield", "UKG24"),
    ("E07000195", "Newcastle-under-Lyme", "UKG24"),
    ("E07000196", "South Staffordshire", "UKG24"),
    ("E07000197", "Stafford", "UKG24"),
    ("E07000198", "Staffordshire Moorlands", "UKG24"),
    ("E07000199", "Tamworth", "UKG24"),
    ("E07000218", "North Warwickshire", "UKG13"),
    ("E07000219", "Nuneaton and Bedworth", "UKG13"),
    ("E07000220", "Rugby", "UKG13"),
    ("E07000221", "Stratford-on-Avon", "UKG13"),
    ("E07000222", "Warwick", "UKG13"),
    ("E07000234", "Bromsgrove", "UKG12"),
    ("E07000235", "Malvern Hills", "UKG12"),
    ("E07000236", "Redditch", "UKG12"),
    ("E07000237", "Worcester", "UKG12"),
    ("E07000238", "Wychavon", "UKG12"),
    ("E07000239", "Wyre Forest", "UKG12"),
    ("E08000025", "Birmingham", "UKG31"),
    ("E08000026", "Coventry", "UKG33"),
    ("E08000027", "Dudley", "UKG36"),
    ("E08000028", "Sandwell", "UKG37"),
    ("E08000029", "Solihull", "UKG32"),
    ("E08000030", "Walsall", "UKG38"),
    ("E08000031", "Wolverhampton", "UKG39"),
    ("E10000028", "Staffordshire", "UKG24"), // county council; UKG24 is Staffordshire CC area
    ("E10000031", "Warwickshire", "UKG13"),  // county council
    ("E10000034", "Worcestershire", "UKG12"), // county council
];

/// Alternative names of the local authorities above → GSS code: each council's
/// official name, plus common variants seen in notices.
pub const LOCAL_AUTHORITY_ALIASES: &[(&str, &str)] = &[
    ("Birmingham City Council", "E08000025"),
    ("Birmingham District", "E08000025"),
    ("Bromsgrove District Council", "E07000234"),
    ("Cannock Chase Council", "E07000192"),
    ("Cannock Chase District Council", "E07000192"),
    ("City of Birmingham", "E08000025"),
    ("City of Coventry", "E08000026"),
    ("City of Stoke-on-Trent", "E06000021"),
    ("City of Wolverhampton", "E08000031"),
    ("City of Wolverhampton Council", "E08000031"),
    ("City of Worcester", "E07000237"),
    ("County of Herefordshire", "E06000019"),
    ("Coventry City Council", "E08000026"),
    ("Dudley Council", "E08000027"),
    ("Dudley MBC", "E08000027"),
    ("Dudley Metropolitan Borough Council", "E08000027"),
    ("East Staffordshire Borough Council", "E07000193"),
    ("Herefordshire Council", "E06000019"),
    ("Herefordshire, County of", "E06000019"),
    ("Lichfield District Council", "E07000194"),
    ("Malvern Hills District Council", "E07000235"),
    ("Metropolitan Borough of Dudley", "E08000027"),
    ("Metropolitan Borough of Sandwell", "E08000028"),
    ("Metropolitan Borough of Solihull", "E08000029"),
    ("Metropolitan Borough of Walsall", "E08000030"),
    ("Newcastle under Lyme", "E07000195"),
    ("Newcastle-under-Lyme Borough Council", "E07000195"),
    ("North Warwickshire Borough Council", "E07000218"),
    ("Nuneaton & Bedworth", "E07000219"),
    ("Nuneaton & Bedworth Borough Council", "E07000219"),
    ("Nuneaton and Bedworth Borough Council", "E07000219"),
    ("Redditch Borough Council", "E07000236"),
    ("Rugby Borough Council", "E07000220"),
    ("Sandwell Council", "E08000028"),
    ("Sandwell MBC", "E08000028"),
    ("Sandwell Metropolitan Borough Council", "E08000028"),
    ("Shropshire Council", "E06000051"),
    ("Solihull Council", "E08000029"),
    ("Solihull MBC", "E08000029"),
    ("Solihull Metropolitan Borough Council", "E08000029"),
    ("South Staffordshire Council", "E07000196"),
    ("South Staffordshire District Council", "E07000196"),
    ("Stafford Borough Council", "E07000197"),
    ("Staffordshire County Council", "E10000028"),
    ("Staffordshire Moorlands District Council", "E07000198"),
    ("Stoke on Trent", "E06000021"),
    ("Stoke-on-Trent City Council", "E06000021"),
    ("Stratford on Avon", "E07000221"),
    ("Stratford-on-Avon District Council", "E07000221"),
    ("Tamworth Borough Council", "E07000199"),
    ("Telford & Wrekin", "E06000020"),
    ("Telford & Wrekin Council", "E06000020"),
    ("Telford and Wrekin Council", "E06000020"),
    ("Telford and the Wrekin", "E06000020"),
    ("Walsall Council", "E08000030"),
    ("Walsall MBC", "E08000030"),
    ("Walsall Metropolitan Borough Council", "E08000030"),
    ("Warwick District Council", "E07000222"),
    ("Warwickshire County Council", "E10000031"),
    ("Wolverhampton City Council", "E08000031"),
    ("Worcester City Council", "E07000237"),
    ("Worcestershire County Council", "E10000034"),
    ("Wychavon District Council", "E07000238"),
    ("Wyre Forest District Council", "E07000239"),
];

/// NUTS regions (NUTS 2018): (code, name) — the United Kingdom, its 12 NUTS1
/// regions, and every NUTS2 and NUTS3 area of the West Midlands (UKG).
/// NUTS1 names are the short forms (Eurostat labels the English ones e.g.
/// "West Midlands (England)"); UKG3 is the West Midlands metropolitan county.
pub const NUTS_NAMES: &[(&str, &str)] = &[
    ("UK", "United Kingdom"),
    ("UKC", "North East"),
    ("UKD", "North West"),
    ("UKE", "Yorkshire and The Humber"),
    ("UKF", "East Midlands"),
    ("UKG", "West Midlands"),
    ("UKG1", "Herefordshire, Worcestershire and Warwickshire"),
    ("UKG11", "Herefordshire, County of"),
    ("UKG12", "Worcestershire"),
    ("UKG13", "Warwickshire"),
    ("UKG2", "Shropshire and Staffordshire"),
    ("UKG21", "Telford and Wrekin"),
    ("UKG22", "Shropshire CC"),
    ("UKG23", "Stoke-on-Trent"),
    ("UKG24", "Staffordshire CC"),
    ("UKG3", "West Midlands"),
    ("UKG31", "Birmingham"),
    ("UKG32", "Solihull"),
    ("UKG33", "Coventry"),
    ("UKG36", "Dudley"),
    ("UKG37", "Sandwell"),
    ("UKG38", "Walsall"),
    ("UKG39", "Wolverhampton"),
    ("UKH", "East of England"),
    ("UKI", "London"),
    ("UKJ", "South East"),
    ("UKK", "South West"),
    ("UKL", "Wales"),
    ("UKM", "Scotland"),
    ("UKN", "Northern Ireland"),
];

/// Alternative region names used in notices → NUTS1 code ("united kingdom" → the
/// country code "UK"). Keys are lower-case; callers lower-case before looking up.
pub const REGION_ALIASES: &[(&str, &str)] = &[
    ("cymru", "UKL"),
    ("east midlands", "UKF"),
    ("east midlands (england)", "UKF"),
    ("east of england", "UKH"),
    ("eastern", "UKH"),
    ("eastern england", "UKH"),
    ("greater london", "UKI"),
    ("london", "UKI"),
    ("north east", "UKC"),
    ("north east (england)", "UKC"),
    ("north east england", "UKC"),
    ("north west", "UKD"),
    ("north west (england)", "UKD"),
    ("north west england", "UKD"),
    ("north-east", "UKC"),
    ("north-west", "UKD"),
    ("northern ireland", "UKN"),
    ("scotland", "UKM"),
    ("south east", "UKJ"),
    ("south east (england)", "UKJ"),
    ("south east england", "UKJ"),
    ("south west", "UKK"),
    ("south west (england)", "UKK"),
    ("south west england", "UKK"),
    ("south-east", "UKJ"),
    ("south-west", "UKK"),
    ("uk", "UK"),
    ("united kingdom", "UK"),
    ("wales", "UKL"),
    ("west midlands", "UKG"),
    ("west midlands (england)", "UKG"),
    ("yorkshire", "UKE"),
    ("yorkshire & humber", "UKE"),
    ("yorkshire & the humber", "UKE"),
    ("yorkshire and humber", "UKE"),
    ("yorkshire and humberside", "UKE"),
    ("yorkshire and the humber", "UKE"),
];

/// Every UK postcode area → the NUTS code of the region holding most of it:
/// a NUTS1 code in general; for West Midlands areas the finest NUTS code that
/// holds the whole area (only TF fits inside a NUTS2 area). The Crown
/// Dependencies (GY, JE, IM) and non-geographic areas (BF, BX) are not in NUTS
/// and are left out.
pub const POSTCODE_AREAS: &[(&str, &str)] = &[
    ("AB", "UKM"),  // Aberdeen
    ("AL", "UKH"),  // St Albans
    ("B", "UKG"),   // Birmingham; spans UKG1, UKG2 and UKG3
    ("BA", "UKK"),  // Bath
    ("BB", "UKD"),  // Blackburn
    ("BD", "UKE"),  // Bradford
    ("BH", "UKK"),  // Bournemouth; some in Hampshire (UKJ)
    ("BL", "UKD"),  // Bolton
    ("BN", "UKJ"),  // Brighton
    ("BR", "UKI"),  // Bromley; fringe in Kent (UKJ)
    ("BS", "UKK"),  // Bristol
    ("BT", "UKN"),  // Belfast
    ("CA", "UKD"),  // Carlisle
    ("CB", "UKH"),  // Cambridge
    ("CF", "UKL"),  // Cardiff
    ("CH", "UKD"),  // Chester; Deeside part is in Wales (UKL)
    ("CM", "UKH"),  // Chelmsford
    ("CO", "UKH"),  // Colchester
    ("CR", "UKI"),  // Croydon; fringe in Surrey (UKJ)
    ("CT", "UKJ"),  // Canterbury
    ("CV", "UKG"),  // Coventry; Coventry (UKG33), Warwickshire (UKG13), CV13 in Leicestershire
    ("CW", "UKD"),  // Crewe
    ("DA", "UKJ"),  // Dartford; close split: Kent (UKJ) slightly ahead of Bexley (UKI)
    ("DD", "UKM"),  // Dundee
    ("DE", "UKF"),  // Derby; Burton upon Trent (DE13-DE15) is Staffordshire (UKG)
    ("DG", "UKM"),  // Dumfries
    ("DH", "UKC"),  // Durham
    ("DL", "UKC"),  // Darlington; part in North Yorkshire (UKE)
    ("DN", "UKE"),  // Doncaster; parts in Lincolnshire and Nottinghamshire (UKF)
    ("DT", "UKK"),  // Dorchester
    ("DY", "UKG"),  // Dudley; spans UKG3, Staffordshire, Worcestershire and Shropshire
    ("E", "UKI"),   // London E
    ("EC", "UKI"),  // London EC
    ("EH", "UKM"),  // Edinburgh
    ("EN", "UKI"),  // Enfield; part in Hertfordshire (UKH)
    ("EX", "UKK"),  // Exeter
    ("FK", "UKM"),  // Falkirk
    ("FY", "UKD"),  // Blackpool
    ("G", "UKM"),   // Glasgow
    ("GL", "UKK"),  // Gloucester
    ("GU", "UKJ"),  // Guildford
    ("HA", "UKI"),  // Harrow
    ("HD", "UKE"),  // Huddersfield
    ("HG", "UKE"),  // Harrogate
    ("HP", "UKJ"),  // Hemel Hempstead; Buckinghamshire (UKJ) ahead of Hertfordshire (UKH)
    ("HR", "UKG"),  // Hereford; mostly UKG11, fringe in Powys (Wales)
    ("HS", "UKM"),  // Outer Hebrides
    ("HU", "UKE"),  // Hull
    ("HX", "UKE"),  // Halifax
    ("IG", "UKI"),  // Ilford; part in Essex (UKH)
    ("IP", "UKH"),  // Ipswich
    ("IV", "UKM"),  // Inverness
    ("KA", "UKM"),  // Kilmarnock
    ("KT", "UKJ"),  // Kingston upon Thames; Surrey (UKJ) ahead of London (UKI)
    ("KW", "UKM"),  // Kirkwall
    ("KY", "UKM"),  // Kirkcaldy
    ("L", "UKD"),   // Liverpool
    ("LA", "UKD"),  // Lancaster
    ("LD", "UKL"),  // Llandrindod Wells
    ("LE", "UKF"),  // Leicester
    ("LL", "UKL"),  // Llandudno
    ("LN", "UKF"),  // Lincoln
    ("LS", "UKE"),  // Leeds
    ("LU", "UKH"),  // Luton
    ("M", "UKD"),   // Manchester
    ("ME", "UKJ"),  // Medway
    ("MK", "UKJ"),  // Milton Keynes; Bedford part is in UKH
    ("ML", "UKM"),  // Motherwell
    ("N", "UKI"),   // London N
    ("NE", "UKC"),  // Newcastle upon Tyne
    ("NG", "UKF"),  // Nottingham
    ("NN", "UKF"),  // Northampton
    ("NP", "UKL"),  // Newport
    ("NR", "UKH"),  // Norwich
    ("NW", "UKI"),  // London NW
    ("OL", "UKD"),  // Oldham
    ("OX", "UKJ"),  // Oxford
    ("PA", "UKM"),  // Paisley
    ("PE", "UKH"),  // Peterborough; Lincolnshire and Northamptonshire parts are UKF
    ("PH", "UKM"),  // Perth
    ("PL", "UKK"),  // Plymouth
    ("PO", "UKJ"),  // Portsmouth
    ("PR", "UKD"),  // Preston
    ("RG", "UKJ"),  // Reading
    ("RH", "UKJ"),  // Redhill
    ("RM", "UKI"),  // Romford; part in Essex (UKH)
    ("S", "UKE"),   // Sheffield; Derbyshire and Nottinghamshire parts are UKF
    ("SA", "UKL"),  // Swansea
    ("SE", "UKI"),  // London SE
    ("SG", "UKH"),  // Stevenage
    ("SK", "UKD"),  // Stockport; High Peak part is UKF
    ("SL", "UKJ"),  // Slough
    ("SM", "UKI"),  // Sutton
    ("SN", "UKK"),  // Swindon
    ("SO", "UKJ"),  // Southampton
    ("SP", "UKK"),  // Salisbury; Andover part is Hampshire (UKJ)
    ("SR", "UKC"),  // Sunderland
    ("SS", "UKH"),  // Southend-on-Sea
    ("ST", "UKG"),  // Stoke-on-Trent; mostly UKG23/UKG24, fringe in Cheshire East (UKD)
    ("SW", "UKI"),  // London SW
    ("SY", "UKG"),  // Shrewsbury; SY15-SY25 are in Wales (UKL)
    ("TA", "UKK"),  // Taunton
    ("TD", "UKM"),  // Galashiels; part in Northumberland (UKC)
    ("TF", "UKG2"), // Telford; all within Telford and Wrekin, Shropshire and Staffordshire
    ("TN", "UKJ"),  // Tonbridge
    ("TQ", "UKK"),  // Torquay
    ("TR", "UKK"),  // Truro
    ("TS", "UKC"),  // Cleveland; part in North Yorkshire (UKE)
    ("TW", "UKI"),  // Twickenham; part in Surrey (UKJ)
    ("UB", "UKI"),  // Southall
    ("W", "UKI"),   // London W
    ("WA", "UKD"),  // Warrington
    ("WC", "UKI"),  // London WC
    ("WD", "UKH"),  // Watford
    ("WF", "UKE"),  // Wakefield
    ("WN", "UKD"),  // Wigan
    ("WR", "UKG"), // Worcester; mostly UKG12, fringes in Herefordshire, Shropshire, Gloucestershire
    ("WS", "UKG"), // Walsall; spans Walsall, Sandwell (UKG3) and Staffordshire (UKG24)
    ("WV", "UKG"), // Wolverhampton; spans Wolverhampton, Walsall, Staffordshire and Shropshire
    ("YO", "UKE"), // York
    ("ZE", "UKM"), // Lerwick (Shetland)
];

/// Postcode districts of the West Midlands metropolitan county and the areas
/// around it (B, CV1-CV6, DY1-DY9, WS1-WS10, WV1-WV14) → NUTS3 code (NUTS 2018).
/// Where a district straddles a boundary it is mapped to the authority holding
/// most of it; the comment names the rest. B22 (withdrawn), B39 and B41 do not exist.
pub const POSTCODE_DISTRICTS: &[(&str, &str)] = &[
    ("B1", "UKG31"),
    ("B10", "UKG31"),
    ("B11", "UKG31"),
    ("B12", "UKG31"),
    ("B13", "UKG31"),
    ("B14", "UKG31"),
    ("B15", "UKG31"),
    ("B16", "UKG31"),
    ("B17", "UKG31"),
    ("B18", "UKG31"),
    ("B19", "UKG31"),
    ("B2", "UKG31"),
    ("B20", "UKG31"),
    ("B21", "UKG31"),
    ("B23", "UKG31"),
    ("B24", "UKG31"),
    ("B25", "UKG31"),
    ("B26", "UKG31"),
    ("B27", "UKG31"),
    ("B28", "UKG31"),
    ("B29", "UKG31"),
    ("B3", "UKG31"),
    ("B30", "UKG31"),
    ("B31", "UKG31"),
    ("B32", "UKG31"),
    ("B33", "UKG31"),
    ("B34", "UKG31"),
    ("B35", "UKG31"),
    ("B36", "UKG32"), // Castle Bromwich, Smith's Wood (Solihull); Hodge Hill part is Birmingham
    ("B37", "UKG32"), // Chelmsley Wood, Marston Green, Kingshurst
    ("B38", "UKG31"),
    ("B4", "UKG31"),
    ("B40", "UKG32"), // NEC, Birmingham Airport, Bickenhill
    ("B42", "UKG31"), // Perry Barr, Great Barr; Hamstead edge is Sandwell
    ("B43", "UKG37"), // Great Barr/Hamstead (Sandwell); Pheasey is Walsall, small Birmingham part
    ("B44", "UKG31"),
    ("B45", "UKG31"), // Rednal, Frankley; Rubery/Barnt Green/Lickey side is Bromsgrove (UKG12)
    ("B46", "UKG13"), // Coleshill, Water Orton (North Warwickshire)
    ("B47", "UKG12"), // Hollywood, Wythall (Bromsgrove)
    ("B48", "UKG12"), // Alvechurch (Bromsgrove)
    ("B49", "UKG13"), // Alcester (Stratford-on-Avon)
    ("B5", "UKG31"),
    ("B50", "UKG13"), // Bidford-on-Avon (Stratford-on-Avon)
    ("B6", "UKG31"),
    ("B60", "UKG12"), // Bromsgrove
    ("B61", "UKG12"), // Bromsgrove
    ("B62", "UKG36"), // Halesowen; Romsley edge is Bromsgrove
    ("B63", "UKG36"), // Halesowen, Cradley
    ("B64", "UKG37"), // Cradley Heath, Old Hill
    ("B65", "UKG37"), // Rowley Regis, Blackheath
    ("B66", "UKG37"), // Smethwick
    ("B67", "UKG37"), // Smethwick, Bearwood
    ("B68", "UKG37"), // Oldbury, Langley
    ("B69", "UKG37"), // Oldbury, Tividale
    ("B7", "UKG31"),
    ("B70", "UKG37"), // West Bromwich
    ("B71", "UKG37"), // West Bromwich
    ("B72", "UKG31"), // Sutton Coldfield
    ("B73", "UKG31"), // Sutton Coldfield (Boldmere, New Oscott)
    ("B74", "UKG31"), // Four Oaks, Mere Green; Streetly is Walsall, Little Aston is Lichfield
    ("B75", "UKG31"), // Sutton Coldfield
    ("B76", "UKG31"), // Walmley; Curdworth edge is North Warwickshire
    ("B77", "UKG24"), // Tamworth (Wilnecote, Glascote, Dosthill)
    ("B78", "UKG13"), // Polesworth, Dordon, Kingsbury (North Warwickshire) ahead of Fazeley (Lichfield, UKG24)
    ("B79", "UKG24"), // Tamworth; outlying villages in Lichfield/North Warwickshire
    ("B8", "UKG31"),
    ("B80", "UKG13"), // Studley (Stratford-on-Avon)
    ("B9", "UKG31"),
    ("B90", "UKG32"), // Shirley, Dickens Heath; Wythall part is Bromsgrove
    ("B91", "UKG32"), // Solihull
    ("B92", "UKG32"), // Olton, Solihull
    ("B93", "UKG32"), // Knowle, Dorridge
    ("B94", "UKG13"), // Tanworth-in-Arden, Earlswood (Stratford-on-Avon), Lapworth (Warwick); Hockley Heath is Solihull
    ("B95", "UKG13"), // Henley-in-Arden (Stratford-on-Avon)
    ("B96", "UKG12"), // Redditch (Astwood Bank); Feckenham is Wychavon, also UKG12
    ("B97", "UKG12"), // Redditch
    ("B98", "UKG12"), // Redditch
    ("B99", "UKG31"), // non-geographic (Birmingham)
    ("CV1", "UKG33"),
    ("CV2", "UKG33"),
    ("CV3", "UKG33"), // Binley Woods edge is Rugby
    ("CV4", "UKG33"),
    ("CV5", "UKG33"),
    ("CV6", "UKG33"),
    ("DY1", "UKG36"), // Dudley
    ("DY2", "UKG36"), // Dudley, Netherton
    ("DY3", "UKG36"), // Sedgley, Gornal; Himley/Swindon edge is South Staffordshire
    ("DY4", "UKG37"), // Tipton, Tividale (Sandwell); Coseley part is Dudley
    ("DY5", "UKG36"), // Brierley Hill
    ("DY6", "UKG36"), // Kingswinford, Wall Heath
    ("DY7", "UKG24"), // Kinver, Enville (South Staffordshire)
    ("DY8", "UKG36"), // Stourbridge
    ("DY9", "UKG36"), // Lye, Pedmore; Hagley is Bromsgrove
    ("WS1", "UKG38"),
    ("WS10", "UKG37"), // Wednesbury (Sandwell); Darlaston part is Walsall
    ("WS2", "UKG38"),
    ("WS3", "UKG38"), // Bloxwich, Pelsall
    ("WS4", "UKG38"), // Rushall
    ("WS5", "UKG38"),
    ("WS6", "UKG24"), // Cheslyn Hay, Great Wyrley (South Staffordshire)
    ("WS7", "UKG24"), // Burntwood (Lichfield)
    ("WS8", "UKG38"), // Brownhills
    ("WS9", "UKG38"), // Aldridge, Walsall Wood; Stonnall edge is Lichfield
    ("WV1", "UKG39"),
    ("WV10", "UKG39"), // Bushbury, Fordhouses; Featherstone is South Staffordshire
    ("WV11", "UKG39"), // Wednesfield; Essington is South Staffordshire
    ("WV12", "UKG38"), // Willenhall, Short Heath (Walsall)
    ("WV13", "UKG38"), // Willenhall (Walsall)
    ("WV14", "UKG39"), // Bilston; Coseley part is Dudley
    ("WV2", "UKG39"),
    ("WV3", "UKG39"),
    ("WV4", "UKG39"), // Penn; Lower Penn edge is South Staffordshire
    ("WV5", "UKG24"), // Wombourne (South Staffordshire)
    ("WV6", "UKG39"), // Tettenhall, Whitmore Reans; Perton/Pattingham are South Staffordshire
    ("WV7", "UKG22"), // Albrighton (Shropshire)
    ("WV8", "UKG24"), // Codsall, Bilbrook (South Staffordshire); Pendeford part is Wolverhampton
    ("WV9", "UKG39"), // Pendeford; Coven edge is South Staffordshire
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn keys_strictly_sorted<'a>(name: &str, keys: impl Iterator<Item = &'a str>) {
        let keys: Vec<&str> = keys.collect();
        for pair in keys.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{name}: keys not sorted or duplicated: {:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    fn no_duplicates<'a>(name: &str, keys: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for k in keys {
            assert!(seen.insert(k), "{name}: duplicate key {k:?}");
        }
    }

    fn nuts_name(code: &str) -> Option<&'static str> {
        NUTS_NAMES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| NUTS_NAMES[i].1)
    }

    fn lookup(table: &'static [(&'static str, &'static str)], key: &str) -> Option<&'static str> {
        table
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| table[i].1)
    }

    #[test]
    fn no_duplicate_keys() {
        no_duplicates("LOCAL_AUTHORITIES", LOCAL_AUTHORITIES.iter().map(|r| r.0));
        no_duplicates(
            "LOCAL_AUTHORITIES names",
            LOCAL_AUTHORITIES.iter().map(|r| r.1),
        );
        no_duplicates(
            "LOCAL_AUTHORITY_ALIASES",
            LOCAL_AUTHORITY_ALIASES.iter().map(|r| r.0),
        );
        no_duplicates("NUTS_NAMES", NUTS_NAMES.iter().map(|r| r.0));
        no_duplicates("REGION_ALIASES", REGION_ALIASES.iter().map(|r| r.0));
        no_duplicates("POSTCODE_AREAS", POSTCODE_AREAS.iter().map(|r| r.0));
        no_duplicates("POSTCODE_DISTRICTS", POSTCODE_DISTRICTS.iter().map(|r| r.0));
    }

    #[test]
    fn tables_sorted_by_first_element() {
        keys_strictly_sorted("LOCAL_AUTHORITIES", LOCAL_AUTHORITIES.iter().map(|r| r.0));
        keys_strictly_sorted(
            "LOCAL_AUTHORITY_ALIASES",
            LOCAL_AUTHORITY_ALIASES.iter().map(|r| r.0),
        );
        keys_strictly_sorted("NUTS_NAMES", NUTS_NAMES.iter().map(|r| r.0));
        keys_strictly_sorted("REGION_ALIASES", REGION_ALIASES.iter().map(|r| r.0));
        keys_strictly_sorted("POSTCODE_AREAS", POSTCODE_AREAS.iter().map(|r| r.0));
        keys_strictly_sorted("POSTCODE_DISTRICTS", POSTCODE_DISTRICTS.iter().map(|r| r.0));
    }

    #[test]
    fn every_nuts_code_used_is_named() {
        let used = LOCAL_AUTHORITIES
            .iter()
            .map(|r| r.2)
            .chain(REGION_ALIASES.iter().map(|r| r.1))
            .chain(POSTCODE_AREAS.iter().map(|r| r.1))
            .chain(POSTCODE_DISTRICTS.iter().map(|r| r.1));
        for code in used {
            assert!(
                nuts_name(code).is_some(),
                "NUTS code {code:?} missing from NUTS_NAMES"
            );
        }
    }

    #[test]
    fn aliases_point_at_known_authorities() {
        let gss: HashSet<&str> = LOCAL_AUTHORITIES.iter().map(|r| r.0).collect();
        for (alias, code) in LOCAL_AUTHORITY_ALIASES {
            assert!(
                gss.contains(code),
                "alias {alias:?} points at unknown GSS code {code:?}"
            );
        }
        // Every authority has at least one alias (its council's official name).
        let aliased: HashSet<&str> = LOCAL_AUTHORITY_ALIASES.iter().map(|r| r.1).collect();
        for (code, name, _) in LOCAL_AUTHORITIES {
            assert!(aliased.contains(code), "{name} ({code}) has no alias");
        }
    }

    #[test]
    fn shapes_of_codes() {
        for (code, _, nuts) in LOCAL_AUTHORITIES {
            assert_eq!(code.len(), 9, "{code}");
            assert!(code.starts_with('E'), "{code}");
            assert!(nuts.starts_with("UKG"), "{code} -> {nuts}");
        }
        for (alias, _) in REGION_ALIASES {
            assert_eq!(
                *alias,
                alias.to_lowercase(),
                "region alias must be lower-case"
            );
        }
        for (area, _) in POSTCODE_AREAS {
            assert!((1..=2).contains(&area.len()), "{area}");
            assert!(area.bytes().all(|b| b.is_ascii_uppercase()), "{area}");
        }
        for (district, nuts) in POSTCODE_DISTRICTS {
            let area: String = district
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(
                lookup(POSTCODE_AREAS, &area).is_some(),
                "{district}: unknown area"
            );
            assert_eq!(nuts.len(), 5, "{district} -> {nuts} is not a NUTS3 code");
        }
        // Every NUTS1 region is reachable from at least one region alias.
        for (code, name) in NUTS_NAMES {
            if code.len() == 3 {
                assert!(
                    REGION_ALIASES.iter().any(|(_, c)| c == code),
                    "no region alias for {code} {name}"
                );
            }
        }
    }

    #[test]
    fn table_sizes() {
        assert_eq!(LOCAL_AUTHORITIES.len(), 33);
        assert_eq!(NUTS_NAMES.len(), 30);
        assert_eq!(NUTS_NAMES.iter().filter(|(c, _)| c.len() == 3).count(), 12);
        assert_eq!(POSTCODE_AREAS.len(), 121);
    }

    #[test]
    fn known_facts() {
        let walsall = LOCAL_AUTHORITIES
            .iter()
            .find(|r| r.0 == "E08000030")
            .expect("Walsall present");
        assert_eq!(walsall.1, "Walsall");
        assert_eq!(walsall.2, "UKG38");
        let bromsgrove = LOCAL_AUTHORITIES
            .iter()
            .find(|r| r.0 == "E07000234")
            .unwrap();
        assert_eq!((bromsgrove.1, bromsgrove.2), ("Bromsgrove", "UKG12"));

        assert_eq!(lookup(POSTCODE_DISTRICTS, "B66"), Some("UKG37"));
        assert_eq!(lookup(POSTCODE_DISTRICTS, "B8"), Some("UKG31"));
        assert_eq!(lookup(POSTCODE_DISTRICTS, "WS1"), Some("UKG38"));
        assert_eq!(lookup(POSTCODE_DISTRICTS, "WV1"), Some("UKG39"));
        assert_eq!(lookup(POSTCODE_DISTRICTS, "CV1"), Some("UKG33"));
        assert_eq!(lookup(POSTCODE_AREAS, "WS"), Some("UKG"));
        assert_eq!(lookup(POSTCODE_AREAS, "WV"), Some("UKG"));
        assert_eq!(lookup(POSTCODE_AREAS, "B"), Some("UKG"));
        assert_eq!(lookup(POSTCODE_AREAS, "AB"), Some("UKM"));
        assert_eq!(lookup(POSTCODE_AREAS, "BT"), Some("UKN"));

        assert_eq!(
            lookup(LOCAL_AUTHORITY_ALIASES, "City of Wolverhampton"),
            Some("E08000031")
        );
        assert_eq!(
            lookup(LOCAL_AUTHORITY_ALIASES, "Herefordshire, County of"),
            Some("E06000019")
        );
        assert_eq!(lookup(REGION_ALIASES, "eastern"), Some("UKH"));
        assert_eq!(
            lookup(REGION_ALIASES, "yorkshire & the humber"),
            Some("UKE")
        );
        assert_eq!(lookup(REGION_ALIASES, "greater london"), Some("UKI"));
        assert_eq!(nuts_name("UKG"), Some("West Midlands"));
        assert_eq!(nuts_name("UKG38"), Some("Walsall"));
    }
}
