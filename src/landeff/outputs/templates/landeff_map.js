/* landeff interactive map: draws parcels, buildings and remainders from one compact JSON block on a
 * Leaflet canvas, and builds popups, tooltips, the legend and search results lazily.
 * Every piece of text from the data goes into the page through textContent: nothing from the data is
 * ever parsed as HTML or run. */
(function () {
  'use strict';

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function add(parent, child) { parent.appendChild(child); return child; }

  /* Decode the delta-encoded, quantised rings into Leaflet latlng arrays (null when no geometry). */
  function decodeGeometry(g, scale) {
    var pf = g.pf, rp = g.rp, nv = g.nv, c = g.c;
    var out = new Array(pf.length);
    var ip = 0, ir = 0, ic = 0, x = 0, y = 0;
    for (var f = 0; f < pf.length; f++) {
      var nParts = pf[f];
      if (nParts === 0) { out[f] = null; continue; }
      var parts = new Array(nParts);
      for (var p = 0; p < nParts; p++) {
        var nRings = rp[ip++];
        var rings = new Array(nRings);
        for (var r = 0; r < nRings; r++) {
          var n = nv[ir++];
          var ring = new Array(n);
          for (var v = 0; v < n; v++) {
            x += c[ic++];
            y += c[ic++];
            ring[v] = new L.LatLng(y / scale, x / scale);
          }
          rings[r] = ring;
        }
        parts[p] = rings;
      }
      out[f] = nParts === 1 ? parts[0] : parts;
    }
    return out;
  }

  /* Column access: {k, t: n|s, s: decimals, v: values} or a dictionary {u: uniques, c: codes}. */
  function value(col, i) {
    if (!col) { return null; }
    if (col.u) {
      var code = col.c[i];
      return (code === null || code < 0) ? null : col.u[code];
    }
    var v = col.v[i];
    if (v === null || v === undefined) { return null; }
    if (col.t === 'n' && col.s) { return v / Math.pow(10, col.s); }
    return v;
  }

  function columnMap(block) {
    var m = {};
    (block.cols || []).forEach(function (col) { m[col.k] = col; });
    return m;
  }

  function Formatter(locale) {
    var cache = {};
    this.number = function (x, decimals) {
      if (x === null || x === undefined || x === '') { return ''; }
      if (typeof x !== 'number') { return String(x); }
      var key = decimals === undefined ? 'auto' : decimals;
      if (!cache[key]) {
        cache[key] = decimals === undefined
          ? new Intl.NumberFormat(locale, { maximumFractionDigits: 4 })
          : new Intl.NumberFormat(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
      }
      return cache[key].format(x);
    };
  }

  function hatchPattern(fill, line) {
    var size = 8;
    var c = document.createElement('canvas');
    c.width = size; c.height = size;
    var ctx = c.getContext('2d');
    ctx.fillStyle = fill; ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = line; ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(0, size); ctx.lineTo(size, 0);
    ctx.moveTo(-2, 2); ctx.lineTo(2, -2);
    ctx.moveTo(size - 2, size + 2); ctx.lineTo(size + 2, size - 2);
    ctx.stroke();
    return ctx.createPattern(c, 'repeat');
  }

  function init(map, dataId, groups) {
    var tick = { start: performance.now() };
    var script = document.getElementById(dataId);
    var D = JSON.parse(script.textContent);
    var T = D.text;
    var fmt = new Formatter(D.locale);
    var scale = D.scale;
    if (!map.options.renderer) { map.options.renderer = L.canvas({ padding: 0.5, tolerance: 3 }); }

    if (D.bounds) { map.fitBounds(D.bounds, { animate: false, padding: [12, 12] }); }

    var state = { map: map, data: D, layers: { parcels: [], buildings: [], remainders: [] } };

    /* ---------- parcels ---------- */
    var P = D.parcels;
    var pc = columnMap(P);
    var fills = D.styles.fill, lines = D.styles.line;
    var styleCache = {};
    function parcelStyle(fi, li) {
      var key = fi + ':' + li;
      if (styleCache[key]) { return styleCache[key]; }
      var f = fills[fi], l = lines[li];
      var s = {
        color: l.color, weight: l.weight, opacity: 0.95,
        fill: true, fillColor: f.color, fillOpacity: 0.62
      };
      if (l.dash) { s.dashArray = l.dash; }
      if (l.hatch) { s.fillColor = hatchPattern(f.color, l.color); s.fillOpacity = 0.8; }
      styleCache[key] = s;
      return s;
    }

    var findingsByParcel = {};
    var F = D.findings;
    if (F) {
      for (var k = 0; k < F.p.length; k++) {
        (findingsByParcel[F.p[k]] = findingsByParcel[F.p[k]] || []).push(k);
      }
    }
    var E = D.enterprises;
    var entsByParcel = {};
    var parcelsByEnt = {};
    if (E && E.links) {
      for (var j = 0; j < E.links.p.length; j++) {
        var pi = E.links.p[j], ei = E.links.e[j];
        (entsByParcel[pi] = entsByParcel[pi] || []).push(j);
        (parcelsByEnt[ei] = parcelsByEnt[ei] || []).push(pi);
      }
    }
    var ec = E ? columnMap(E) : {};
    var fc = F ? columnMap(F) : {};

    tick.parsed = performance.now();
    var parcelGeoms = decodeGeometry(P.geom, scale);
    tick.decoded = performance.now();
    var pLayers = state.layers.parcels;
    for (var i = 0; i < parcelGeoms.length; i++) {
      if (parcelGeoms[i] === null) { pLayers.push(null); continue; }
      var layer = L.polygon(parcelGeoms[i], parcelStyle(P.fill[i], P.line[i]));
      layer.landeffKind = 'parcel';
      layer.landeffIndex = i;
      pLayers.push(layer);
      groups.parcels.addLayer(layer);
    }
    parcelGeoms = null;
    tick.parcels = performance.now();

    function parcelId(i) { return value(pc.parcel_id, i); }

    function fieldRows(table, cols, fields, i) {
      fields.forEach(function (f) {
        var v = value(cols[f.k], i);
        if (v === null || v === '') { return; }
        var tr = add(table, el('tr'));
        add(tr, el('th', null, f.unit ? f.label + ' (' + f.unit + ')' : f.label));
        var td = add(tr, el('td'));
        if (f.k === 'grade') {
          var sw = add(td, el('span', 'landeff-swatch'));
          sw.style.background = D.gradeColors[v] || D.gradeColors[''];
          add(td, document.createTextNode(String(v)));
        } else {
          td.textContent = f.t === 'n' ? fmt.number(v, cols[f.k].s || 0) : String(v);
        }
      });
    }

    function findingNode(k) {
      var li = el('li', 'landeff-finding');
      var head = add(li, el('div', 'landeff-finding-head'));
      add(head, el('strong', null, value(fc.label, k) || value(fc.code, k)));
      add(head, el('span', 'landeff-code', ' ' + value(fc.code, k)));
      var val = value(fc.value, k), thr = value(fc.threshold, k), unit = value(fc.unit, k) || '';
      if (val !== null || thr !== null) {
        var parts = [];
        if (val !== null) { parts.push(T.measured + ' ' + fmt.number(val) + (unit ? ' ' + unit : '')); }
        if (thr !== null) { parts.push(T.threshold + ' ' + fmt.number(thr) + (unit ? ' ' + unit : '')); }
        add(li, el('div', null, parts.join(' · ')));
      }
      var stage = value(fc.stage, k);
      if (stage) { add(li, el('div', null, T.stage + ': ' + stage)); }
      var fee = value(fc.fee_wan, k);
      if (fee !== null) { add(li, el('div', null, T.fee + ': ' + fmt.number(fee, 2) + ' ' + T.wan)); }
      var src = value(fc.source, k);
      if (src) { add(li, el('div', 'landeff-source', T.source + ': ' + src)); }
      var ev = value(fc.evidence, k);
      if (ev) { add(li, el('div', 'landeff-evidence', ev)); }
      return li;
    }

    function parcelPopup(i) {
      var root = el('div', 'landeff-popup');
      add(root, el('h4', null, T.parcel + ' ' + parcelId(i)));
      var table = add(root, el('table', 'landeff-fields'));
      fieldRows(table, pc, P.fields, i);
      var links = entsByParcel[i];
      if (links && links.length) {
        add(root, el('h5', null, T.enterprises));
        var ul = add(root, el('ul', 'landeff-enterprises'));
        links.forEach(function (j) {
          var e = E.links.e[j];
          var li = add(ul, el('li'));
          add(li, el('span', 'landeff-ent-name', value(ec.name, e) || value(ec.uscc, e)));
          var role = E.links.role ? E.links.role[j] : null;
          var extra = [];
          if (role) { extra.push(T.roles[role] || role); }
          E.fields.forEach(function (f) {
            if (f.k === 'name') { return; }
            var v = value(ec[f.k], e);
            if (v === null || v === '') { return; }
            var shown = f.t === 'n' ? fmt.number(v, ec[f.k].s || 0) : String(v);
            extra.push(f.label + ' ' + shown + (f.unit ? ' ' + f.unit : ''));
          });
          if (extra.length) { add(li, el('span', 'landeff-ent-extra', ' · ' + extra.join(' · '))); }
        });
      }
      var fs = findingsByParcel[i];
      if (fs && fs.length) {
        add(root, el('h5', null, T.findings));
        var fl = add(root, el('ul', 'landeff-findings'));
        fs.forEach(function (k) { add(fl, findingNode(k)); });
      }
      return root;
    }

    function parcelTooltip(i) {
      var root = el('div', 'landeff-tooltip');
      add(root, el('strong', null, parcelId(i)));
      var holder = value(pc.holder_name, i);
      if (holder) { add(root, el('div', null, holder)); }
      var g = value(pc.grade, i);
      if (g) { add(root, el('div', null, T.grade + ': ' + g)); }
      if (D.colorBy && D.colorBy !== 'grade') {
        var cv = value(pc[D.colorBy], i);
        if (cv !== null) { add(root, el('div', null, D.colorByLabel + ': ' + fmt.number(cv, pc[D.colorBy].s || 0))); }
      }
      var fs = findingsByParcel[i];
      if (fs && fs.length) {
        var codes = [];
        fs.forEach(function (k) { var c = value(fc.code, k); if (codes.indexOf(c) < 0) { codes.push(c); } });
        add(root, el('div', 'landeff-code', codes.join(', ')));
      }
      return root;
    }

    /* ---------- buildings and remainders ---------- */
    function simpleLayer(block, kind, group, styleOf) {
      var cols = columnMap(block);
      var geoms = decodeGeometry(block.geom, scale);
      var arr = state.layers[kind];
      for (var b = 0; b < geoms.length; b++) {
        if (geoms[b] === null) { arr.push(null); continue; }
        var lyr = L.polygon(geoms[b], styleOf(b));
        lyr.landeffKind = kind.slice(0, -1);
        lyr.landeffIndex = b;
        arr.push(lyr);
        group.addLayer(lyr);
      }
      return cols;
    }

    function smallPopup(title, fields, cols, i) {
      var root = el('div', 'landeff-popup');
      add(root, el('h4', null, title));
      fieldRows(add(root, el('table', 'landeff-fields')), cols, fields, i);
      return root;
    }

    var B = D.buildings, bc = null;
    if (B && groups.buildings) {
      var bStyles = D.styles.buildings.map(function (s) {
        return { color: '#333333', weight: 0.8, opacity: 0.9, fill: true, fillColor: s.color, fillOpacity: 0.85 };
      });
      bc = simpleLayer(B, 'buildings', groups.buildings, function (b) { return bStyles[B.cls[b]]; });
    }
    var R = D.remainders, rc = null;
    if (R && groups.remainders) {
      var rStyle = {
        color: D.styles.remainder.color, weight: 2, dashArray: '5 4', opacity: 1, fill: true,
        fillColor: hatchPattern('#ffffff', D.styles.remainder.color), fillOpacity: 0.55
      };
      rc = simpleLayer(R, 'remainders', groups.remainders, function () { return rStyle; });
    }

    function buildingTitle(i) { return T.building + ' ' + (value(bc.building_id, i) || ''); }
    function remainderTitle(i) { return T.remainder + ' · ' + T.parcel + ' ' + (value(rc.parcel_id, i) || ''); }

    function popupFor(kind, i) {
      if (kind === 'parcel') { return parcelPopup(i); }
      if (kind === 'building') { return smallPopup(buildingTitle(i), B.fields, bc, i); }
      return smallPopup(remainderTitle(i), R.fields, rc, i);
    }

    function tooltipFor(kind, i) {
      if (kind === 'parcel') { return parcelTooltip(i); }
      var root = el('div', 'landeff-tooltip');
      if (kind === 'building') {
        add(root, el('strong', null, buildingTitle(i)));
        var fl = value(bc.floors, i);
        if (fl !== null) { add(root, el('div', null, fmt.number(fl, 0) + ' ' + T.floorsUnit)); }
      } else {
        add(root, el('strong', null, T.remainder));
        var a = value(rc.area_mu, i);
        if (a !== null) { add(root, el('div', null, fmt.number(a, 2) + ' ' + T.mu)); }
        add(root, el('div', null, T.parcel + ' ' + (value(rc.parcel_id, i) || '')));
      }
      return root;
    }

    /* ---------- popups and tooltips (one of each, filled on demand) ---------- */
    var popup = L.popup({ maxWidth: 380, minWidth: 220, autoPanPadding: [20, 20] });
    var tooltip = L.tooltip({ direction: 'top', offset: [0, -8], opacity: 0.95, className: 'landeff-tip' });
    var hovered = null;

    function openPopup(kind, i, latlng) {
      var lyr = state.layers[kind + 's'][i];
      if (!lyr) { return null; }
      popup.setLatLng(latlng || lyr.getCenter()).setContent(popupFor(kind, i)).openOn(map);
      return popup.getElement();
    }

    function openTooltip(kind, i, latlng) {
      var lyr = state.layers[kind + 's'][i];
      if (!lyr) { return null; }
      tooltip.setLatLng(latlng || lyr.getCenter()).setContent(tooltipFor(kind, i));
      map.openTooltip(tooltip);
      return tooltip.getElement();
    }

    function closeTooltip() { map.closeTooltip(tooltip); }

    function wire(group) {
      if (!group) { return; }
      group.on('click', function (e) {
        openPopup(e.layer.landeffKind, e.layer.landeffIndex, e.latlng);
      });
      group.on('mouseover', function (e) {
        var lyr = e.layer;
        if (hovered && hovered !== lyr) { hovered.setStyle({ weight: hovered.landeffWeight }); }
        hovered = lyr;
        lyr.landeffWeight = lyr.options.weight;
        lyr.setStyle({ weight: lyr.options.weight + 2 });
        openTooltip(lyr.landeffKind, lyr.landeffIndex, e.latlng);
      });
      group.on('mousemove', function (e) { tooltip.setLatLng(e.latlng); });
      group.on('mouseout', function (e) {
        var lyr = e.layer;
        if (lyr.landeffWeight !== undefined) { lyr.setStyle({ weight: lyr.landeffWeight }); }
        hovered = null;
        closeTooltip();
      });
    }
    wire(groups.parcels);
    wire(groups.buildings);
    wire(groups.remainders);

    /* ---------- legend ---------- */
    var Legend = L.Control.extend({
      options: { position: 'bottomright' },
      onAdd: function () {
        var box = el('div', 'landeff-legend leaflet-control');
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        D.legend.forEach(function (section) {
          add(box, el('div', 'landeff-legend-title', section.title));
          section.items.forEach(function (item) {
            var row = add(box, el('div', 'landeff-legend-item'));
            var sw = add(row, el('span', 'landeff-legend-swatch'));
            sw.style.background = item.fill || 'transparent';
            if (item.hatch) {
              sw.style.backgroundImage = 'repeating-linear-gradient(135deg, ' + item.line + ' 0 2px, transparent 2px 6px)';
            }
            if (item.line) {
              sw.style.border = (item.weight || 1) + 'px ' + (item.dash ? 'dashed ' : 'solid ') + item.line;
            }
            var label = item.n !== undefined && item.n !== null ? item.label + ' (' + fmt.number(item.n, 0) + ')' : item.label;
            add(row, el('span', 'landeff-legend-label', label));
          });
        });
        return box;
      }
    });
    state.legend = new Legend().addTo(map);

    /* ---------- title ---------- */
    if (D.title) {
      var Title = L.Control.extend({
        options: { position: 'topright' },
        onAdd: function () { return el('div', 'landeff-title leaflet-control', D.title); }
      });
      new Title().addTo(map);
      document.title = D.title;
    }

    tick.layers = performance.now();
    /* ---------- search (the index is built on the first search) ---------- */
    var index = null;
    function buildIndex() {
      index = [];
      pLayers.forEach(function (lyr, i) {
        var id = parcelId(i);
        if (id !== null) { index.push({ text: String(id), kind: 'parcel', parcels: [i], label: T.parcel + ' ' + id }); }
        var holder = value(pc.holder_name, i);
        if (holder) { index.push({ text: String(holder), kind: 'holder', parcels: [i], label: holder + ' · ' + T.parcel + ' ' + id }); }
      });
      if (E) {
        var nEnt = E.n;
        for (var e = 0; e < nEnt; e++) {
          var ps = parcelsByEnt[e];
          if (!ps || !ps.length) { continue; }
          var name = value(ec.name, e), uscc = value(ec.uscc, e);
          var label = (name || uscc) + ' · ' + ps.map(parcelId).join(', ');
          if (name) { index.push({ text: String(name), kind: 'enterprise', parcels: ps, label: label }); }
          if (uscc) { index.push({ text: String(uscc), kind: 'enterprise', parcels: ps, label: label }); }
        }
      }
      index.forEach(function (it) { it.key = it.text.toLowerCase(); });
    }

    function search(q) {
      var key = String(q || '').trim().toLowerCase();
      if (!key) { return []; }
      if (index === null) { buildIndex(); }
      var exact = [], starts = [], other = [], seen = {};
      for (var s = 0; s < index.length; s++) {
        var it = index[s];
        var pos = it.key.indexOf(key);
        if (pos < 0) { continue; }
        var dedupe = it.kind + '|' + it.label;
        if (seen[dedupe]) { continue; }
        seen[dedupe] = true;
        (it.key === key ? exact : pos === 0 ? starts : other).push(it);
        if (exact.length + starts.length + other.length >= 400) { break; }
      }
      return exact.concat(starts, other).slice(0, 20);
    }

    function goTo(item) {
      var bounds = null;
      item.parcels.forEach(function (i) {
        var lyr = pLayers[i];
        if (!lyr) { return; }
        bounds = bounds ? bounds.extend(lyr.getBounds()) : L.latLngBounds(lyr.getBounds().getSouthWest(), lyr.getBounds().getNorthEast());
      });
      if (!bounds) { return; }
      map.fitBounds(bounds, { maxZoom: 18, animate: false, padding: [40, 40] });
      openPopup('parcel', item.parcels[0]);
    }

    var Search = L.Control.extend({
      options: { position: 'topleft' },
      onAdd: function () {
        var box = el('div', 'landeff-search leaflet-control leaflet-bar');
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var input = add(box, el('input'));
        input.type = 'search';
        input.placeholder = T.searchPlaceholder;
        input.setAttribute('aria-label', T.searchPlaceholder);
        var list = add(box, el('ul', 'landeff-search-results'));
        var current = [];
        function render() {
          current = search(input.value);
          while (list.firstChild) { list.removeChild(list.firstChild); }
          if (input.value.trim() && !current.length) { add(list, el('li', 'landeff-search-none', T.noResults)); }
          current.forEach(function (it) {
            var li = add(list, el('li', 'landeff-search-item', it.label));
            li.setAttribute('data-kind', it.kind);
            L.DomEvent.on(li, 'click', function () { goTo(it); });
          });
        }
        L.DomEvent.on(input, 'input', render);
        L.DomEvent.on(input, 'keydown', function (ev) {
          if (ev.key === 'Enter' && current.length) { goTo(current[0]); }
          if (ev.key === 'Escape') { input.value = ''; render(); }
        });
        return box;
      }
    });
    new Search().addTo(map);

    tick.index = performance.now();
    state.timings = tick;
    state.openPopup = openPopup;
    state.openTooltip = openTooltip;
    state.closeTooltip = closeTooltip;
    state.search = search;
    state.goTo = goTo;
    state.count = function (kind) {
      var n = 0;
      map.eachLayer(function (lyr) { if (lyr.landeffKind === kind) { n++; } });
      return n;
    };
    window.landeffMaps = window.landeffMaps || {};
    window.landeffMaps[dataId] = state;
    window.landeff = state;

    /* Ready once the canvas has painted the layers: Leaflet redraws in the next animation frame;
     * the frame after that has been presented. */
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        state.readyAt = performance.now();
        window.landeffReady = true;
        map.fire('landeff:ready');
      });
    });
    return state;
  }

  window.landeffMapInit = init;
}());
